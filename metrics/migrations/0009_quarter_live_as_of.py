"""Record the day each quarter's live figures describe.

Until now every quarter's live figures were computed as of its last day, the quarter in progress
included, so that is what the existing rows are marked with. The quarter in progress is then found not
to describe today and is recomputed as of today by the next sweep (``metrics.services.markers_process``).
"""

from django.db import migrations, models

from commitments.periods import Quarter


def mark_quarter_ends(apps, schema_editor):
    ReportingQuarter = apps.get_model("metrics", "ReportingQuarter")
    for row in ReportingQuarter.objects.all():
        row.live_as_of = Quarter(row.year, row.number).end
        row.save(update_fields=["live_as_of"])


class Migration(migrations.Migration):
    dependencies = [
        ("metrics", "0008_quarter_metric_population"),
    ]

    operations = [
        migrations.AddField(
            model_name="reportingquarter",
            name="live_as_of",
            field=models.DateField(
                blank=True,
                help_text=(
                    "The day the live figures describe: the quarter's last day once it is over; while it is in "
                    "progress, the day they were last computed for (Quarter.figures_day)."
                ),
                null=True,
            ),
        ),
        migrations.RunPython(mark_quarter_ends, migrations.RunPython.noop),
    ]

"""Store the quarter's updates (due and done) and the milestones overdue of each scope.

Live figures get their values at the next full recompute (``recompute_metrics``, which the nightly job
runs); until then they read 0. Figures frozen at a sign-off before this migration did not record them, so
they are left empty ("not recorded"), never a 0 that would claim no update was due.
"""

from django.db import migrations, models

NEW = ("updates_due", "updates_done", "milestones_overdue")


def not_recorded_at_sign_off(apps, schema_editor):
    QuarterMetric = apps.get_model("metrics", "QuarterMetric")
    QuarterMetric.objects.filter(basis="signed_off").update(**dict.fromkeys(NEW))


class Migration(migrations.Migration):
    dependencies = [
        ("metrics", "0010_day_state_and_span_starts"),
    ]

    operations = [
        migrations.AddField(
            model_name="quartermetric",
            name="milestones_overdue",
            field=models.PositiveIntegerField(
                default=0,
                help_text="Milestones of the commitments counted, past their due day and not done by then.",
                null=True,
            ),
        ),
        migrations.AddField(
            model_name="quartermetric",
            name="updates_done",
            field=models.PositiveIntegerField(
                default=0,
                help_text="Of those, commitments with an approved update as of a day in the quarter.",
                null=True,
            ),
        ),
        migrations.AddField(
            model_name="quartermetric",
            name="updates_due",
            field=models.PositiveIntegerField(
                default=0,
                help_text="Commitments an update is due from for the quarter: in delivery when it began.",
                null=True,
            ),
        ),
        migrations.RunPython(not_recorded_at_sign_off, migrations.RunPython.noop),
    ]

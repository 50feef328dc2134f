"""Store every movement (newly delivered, newly rated, rating withdrawn beside improved, worsened, status changed).

Live figures get their values at the next full recompute (``recompute_metrics``, which ``make run`` and the
nightly job run); until then they read 0. Figures frozen at a sign-off before this migration did not record
them, so they are left empty ("not recorded"), never a 0 that would claim nothing moved.
"""

from django.db import migrations, models

NEW = ("newly_delivered", "newly_rated", "rating_withdrawn")


def not_recorded_at_sign_off(apps, schema_editor):
    QuarterMetric = apps.get_model("metrics", "QuarterMetric")
    QuarterMetric.objects.filter(basis="signed_off").update(**dict.fromkeys(NEW))


class Migration(migrations.Migration):
    dependencies = [
        ("metrics", "0006_recompute_marker_before"),
    ]

    operations = [
        migrations.AddField(
            model_name="quartermetric",
            name="newly_delivered",
            field=models.PositiveIntegerField(
                default=0, help_text="Delivered now, not at the previous quarter end.", null=True
            ),
        ),
        migrations.AddField(
            model_name="quartermetric",
            name="newly_rated",
            field=models.PositiveIntegerField(
                default=0, help_text="Rated now, with no confidence rating at the previous quarter end.", null=True
            ),
        ),
        migrations.AddField(
            model_name="quartermetric",
            name="rating_withdrawn",
            field=models.PositiveIntegerField(
                default=0, help_text="Rated at the previous quarter end, with no confidence rating now.", null=True
            ),
        ),
        migrations.RunPython(not_recorded_at_sign_off, migrations.RunPython.noop),
    ]

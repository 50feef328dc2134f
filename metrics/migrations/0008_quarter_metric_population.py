"""Keep every scope's figures for two populations: the key commitments, and everything (``all``).

The rows already stored counted every kind of commitment, so they become population ``all``. Figures for the
key commitments appear at the next recompute (``recompute_metrics``, which ``make run`` and the nightly
rebuild run); until then pages asking for them find none. A quarter signed off before this migration keeps
its signed-off figures for ``all`` only: its key commitments' figures are live ones, and the pages say so.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("metrics", "0007_every_movement_stored"),
    ]

    operations = [
        migrations.AddField(
            model_name="quartermetric",
            name="population",
            field=models.CharField(
                choices=[
                    ("key", "Key commitments"),
                    ("all", "Everything: key commitments, chapter elaborations and sub-items"),
                ],
                default="all",
                help_text="Which commitments the figures count: the key commitments, or every kind (``all``).",
                max_length=3,
            ),
        ),
        migrations.RemoveConstraint(model_name="quartermetric", name="quarter_metric_unique_scope"),
        migrations.AddConstraint(
            model_name="quartermetric",
            constraint=models.UniqueConstraint(
                fields=("quarter", "basis", "population", "scope_type", "scope_key"),
                name="quarter_metric_unique_scope",
            ),
        ),
        migrations.RemoveIndex(model_name="quartermetric", name="metric_scope_idx"),
        migrations.AddIndex(
            model_name="quartermetric",
            index=models.Index(
                fields=["scope_type", "scope_key", "population", "basis"], name="metric_scope_population_idx"
            ),
        ),
        migrations.AlterModelOptions(
            name="quartermetric",
            options={"ordering": ["quarter", "basis", "population", "scope_type", "scope_key"]},
        ),
    ]

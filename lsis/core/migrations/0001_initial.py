"""The data stamp's model moves here from the commitments app; its table stays where it is."""

from django.db import migrations, models

import lsis.core.models


class Migration(migrations.Migration):
    initial = True

    # The table was created by the commitments app's migration: this one only takes the model over.
    dependencies = [
        ("commitments", "0006_data_stamp"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="DataStamp",
                    fields=[
                        ("key", models.CharField(max_length=20, primary_key=True, serialize=False)),
                        (
                            "epoch",
                            models.CharField(default=lsis.core.models._random_hex, editable=False, max_length=32),
                        ),
                        ("version", models.PositiveBigIntegerField(default=1)),
                        (
                            "changed_at",
                            models.PositiveBigIntegerField(
                                help_text="Seconds since 1970-01-01 UTC, strictly later for every version."
                            ),
                        ),
                    ],
                    options={"db_table": "commitments_datastamp"},
                ),
            ],
            database_operations=[],
        ),
    ]

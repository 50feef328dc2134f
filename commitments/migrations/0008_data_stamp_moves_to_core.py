"""The data stamp's model now belongs to ``lsis.core``, which keeps its table: nothing in the database changes."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("commitments", "0007_recommendations_of_the_strategy"),
        ("core", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="DataStamp")],
            database_operations=[],
        ),
    ]

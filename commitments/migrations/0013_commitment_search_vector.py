"""The commitment's stored search document (commitments.search), and on PostgreSQL its GIN index.

The index is made here, not declared on the model: SQLite has no GIN index, and a model-declared one would
be created again (and fail) whenever SQLite rebuilds the table. The documents of an existing database are
filled by ``python manage.py search_refresh`` (the seed fills them too).
"""

import django.contrib.postgres.search
from django.contrib.postgres.indexes import GinIndex
from django.db import migrations

INDEX = GinIndex(fields=["search_vector"], name="commitment_search_vector_gin")


def create_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.add_index(apps.get_model("commitments", "Commitment"), INDEX)


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.remove_index(apps.get_model("commitments", "Commitment"), INDEX)


class Migration(migrations.Migration):
    dependencies = [
        ("commitments", "0012_one_update_in_progress_per_day"),
    ]

    operations = [
        migrations.AddField(
            model_name="commitment",
            name="search_vector",
            field=django.contrib.postgres.search.SearchVectorField(
                editable=False,
                help_text="The weighted search document of commitments.search (PostgreSQL).",
                null=True,
            ),
        ),
        migrations.RunPython(create_index, drop_index, elidable=False),
    ]

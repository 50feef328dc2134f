"""Bring the role groups up to date with commitments.roles (evidence links, deleting drafts)."""

from typing import Any

from django.db import migrations

from commitments.roles import sync_role_groups


def update_roles(apps: Any, schema_editor: Any) -> None:
    """Give each role exactly the permissions commitments.roles lists."""
    sync_role_groups(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("commitments", "0003_versions_and_review"),
        ("programmes", "0002_versions_and_review"),
    ]

    operations = [migrations.RunPython(update_roles, migrations.RunPython.noop)]

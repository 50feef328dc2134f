"""Bring the role groups up to date with commitments.roles (everyone on staff reads the open-data releases,
reviewers publish restatements)."""

from typing import Any

from django.db import migrations

from commitments.roles import sync_role_groups


def update_roles(apps: Any, schema_editor: Any) -> None:
    """Give each role exactly the permissions commitments.roles lists."""
    sync_role_groups(apps)


class Migration(migrations.Migration):
    # After the releases' model (its permissions) and the role groups' latest migration in commitments.
    dependencies = [
        ("metrics", "0012_open_data_releases"),
        ("commitments", "0016_roles_for_messages"),
    ]

    operations = [migrations.RunPython(update_roles, migrations.RunPython.noop)]

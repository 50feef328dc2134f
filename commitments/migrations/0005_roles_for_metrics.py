"""Bring the role groups up to date with commitments.roles (reading figures, signing quarters off)."""

from typing import Any

from django.db import migrations

from commitments.roles import sync_role_groups


def update_roles(apps: Any, schema_editor: Any) -> None:
    """Give each role exactly the permissions commitments.roles lists."""
    sync_role_groups(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("commitments", "0004_roles_for_review"),
        ("metrics", "0003_quarter_sign_off_permission"),
    ]

    operations = [migrations.RunPython(update_roles, migrations.RunPython.noop)]

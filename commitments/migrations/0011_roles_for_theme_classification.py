"""Bring the role groups up to date with commitments.roles (reviewers edit the theme classification)."""

from typing import Any

from django.db import migrations

from commitments.roles import sync_role_groups


def update_roles(apps: Any, schema_editor: Any) -> None:
    """Give each role exactly the permissions commitments.roles lists."""
    sync_role_groups(apps)


class Migration(migrations.Migration):
    # After every migration creating a permission the roles grant, so that each is there to be granted.
    dependencies = [
        ("commitments", "0010_theme_classification"),
        ("metrics", "0006_recompute_marker_before"),
        ("programmes", "0003_amount_nature_already_invested"),
    ]

    operations = [migrations.RunPython(update_roles, migrations.RunPython.noop)]

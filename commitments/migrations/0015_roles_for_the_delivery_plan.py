"""Bring the role groups up to date with commitments.roles (milestones, dependencies, owners, deadlines)."""

from typing import Any

from django.db import migrations

from commitments.roles import sync_role_groups


def update_roles(apps: Any, schema_editor: Any) -> None:
    """Give each role exactly the permissions commitments.roles lists."""
    sync_role_groups(apps)


class Migration(migrations.Migration):
    # After every migration creating a permission the roles grant, so that each is there to be granted.
    dependencies = [
        ("commitments", "0014_delivery_plan_and_owners"),
        ("core", "0002_staff_profiles_and_message_ledger"),
        ("metrics", "0010_day_state_and_span_starts"),
        ("programmes", "0004_amount_joint_funders"),
    ]

    operations = [migrations.RunPython(update_roles, migrations.RunPython.noop)]

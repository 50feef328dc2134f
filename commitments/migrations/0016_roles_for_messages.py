"""Bring the role groups up to date with commitments.roles (reviewers and administrators read the messages sent)."""

from typing import Any

from django.db import migrations

from commitments.roles import sync_role_groups


def update_roles(apps: Any, schema_editor: Any) -> None:
    """Give each role exactly the permissions commitments.roles lists."""
    sync_role_groups(apps)


class Migration(migrations.Migration):
    # After the migration creating the message ledger (a dependency of 0015), so its permissions are there.
    dependencies = [("commitments", "0015_roles_for_the_delivery_plan")]

    operations = [migrations.RunPython(update_roles, migrations.RunPython.noop)]

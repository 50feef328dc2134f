"""Bring the role groups up to date with commitments.roles (reviewers decide partners' proposals and keep memberships)."""

from typing import Any

from django.db import migrations

from commitments.roles import sync_role_groups


def update_roles(apps: Any, schema_editor: Any) -> None:
    """Give each role exactly the permissions commitments.roles lists."""
    sync_role_groups(apps)


class Migration(migrations.Migration):
    # After the migration creating the proposals and memberships, so their permissions are there.
    dependencies = [("commitments", "0017_partner_proposals")]

    operations = [migrations.RunPython(update_roles, migrations.RunPython.noop)]

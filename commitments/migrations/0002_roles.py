"""Create the role groups (OLS editor, OLS reviewer, Board member, Partner, Administrator)."""

from typing import Any

from django.db import migrations

from commitments.roles import sync_role_groups


def create_roles(apps: Any, schema_editor: Any) -> None:
    """Create or update the groups from commitments.roles."""
    sync_role_groups(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("commitments", "0001_initial"),
        ("programmes", "0001_initial"),
        ("metrics", "0001_initial"),
    ]

    operations = [migrations.RunPython(create_roles, migrations.RunPython.noop)]

"""The settings and the two setup commands behave as a newcomer and an operator expect."""

from __future__ import annotations

import os
import subprocess
import sys
from io import StringIO

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.test import Client, override_settings

from commitments import roles

pytestmark = pytest.mark.django_db


def _run_with_production_settings(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean_env = {
        key: value for key, value in os.environ.items() if key not in {"SECRET_KEY", "ALLOWED_HOSTS", "DATABASE_URL"}
    }
    clean_env.update(DJANGO_SETTINGS_MODULE="lsis.settings.production", **env)
    return subprocess.run(  # noqa: S603 - fixed command, our own interpreter
        [sys.executable, "manage.py", *args],
        cwd=settings.BASE_DIR,
        env=clean_env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_production_refuses_to_start_without_its_secrets():
    result = _run_with_production_settings("check")
    assert result.returncode != 0
    assert (
        "need these environment variables, which are not set: SECRET_KEY, ALLOWED_HOSTS, DATABASE_URL" in result.stderr
    )


def test_production_names_only_what_is_missing():
    result = _run_with_production_settings("check", SECRET_KEY="x" * 60, ALLOWED_HOSTS="lsis.example.gov.uk")
    assert result.returncode != 0
    assert "which are not set: DATABASE_URL." in result.stderr


def test_production_passes_the_deployment_checks():
    result = _run_with_production_settings(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        SECRET_KEY="a-long-random-production-secret-for-the-check-only-0123456789abcdef",
        ALLOWED_HOSTS="lsis.example.gov.uk",
        DATABASE_URL="sqlite:///:memory:",
    )
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_demo_users_get_one_role_each_and_can_be_made_twice():
    call_command("create_demo_users", stdout=StringIO())
    call_command("create_demo_users", stdout=StringIO())
    users = get_user_model().objects.filter(username__in=["admin", "editor", "reviewer", "board", "partner"])
    assert users.count() == 5
    roles_by_user = {user.username: [group.name for group in user.groups.all()] for user in users}
    assert roles_by_user == {
        "admin": [],
        "editor": [roles.EDITOR],
        "reviewer": [roles.REVIEWER],
        "board": [roles.BOARD_MEMBER],
        "partner": [roles.PARTNER],
    }
    assert users.get(username="admin").is_superuser
    assert not users.get(username="partner").is_staff


def test_demo_users_can_sign_in_to_the_admin_except_partners():
    call_command("create_demo_users", stdout=StringIO())
    for username, expected in [("board", 200), ("editor", 200), ("partner", 302)]:
        client = Client()
        assert client.login(username=username, password=settings.DEMO_PASSWORD)
        assert client.get("/admin/").status_code == expected, username


@override_settings(LSIS_ENVIRONMENT="production")
def test_demo_users_are_refused_under_production_settings():
    with pytest.raises(CommandError, match="never created under production settings"):
        call_command("create_demo_users", stdout=StringIO())
    assert not get_user_model().objects.filter(username="editor").exists()


def test_roles_exist_with_least_privilege():
    from django.contrib.auth.models import Group

    board = Group.objects.get(name=roles.BOARD_MEMBER)
    assert board.permissions.exists()
    assert all(permission.codename.startswith("view_") for permission in board.permissions.all())
    assert not Group.objects.get(name=roles.PARTNER).permissions.exists()


def test_role_groups_in_the_database_match_the_roles_module():
    from django.contrib.auth.models import Group

    for role, wanted in roles.ROLE_PERMISSIONS.items():
        granted = {(p.content_type.app_label, p.codename) for p in Group.objects.get(name=role).permissions.all()}
        assert granted == set(wanted), role

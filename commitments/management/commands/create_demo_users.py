"""``python manage.py create_demo_users``: one user per role, for local use only."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from commitments import roles

DEMO_USERS: dict[str, str | None] = {
    "admin": None,  # a superuser
    "editor": roles.EDITOR,
    "reviewer": roles.REVIEWER,
    "board": roles.BOARD_MEMBER,
    "partner": roles.PARTNER,
}


class Command(BaseCommand):
    help = "Create one demo user per role (admin, editor, reviewer, board, partner). Refuses under production settings."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--password", default=None, help="Password for every demo user (default: DEMO_PASSWORD).")

    @transaction.atomic
    def handle(self, *args: Any, **options: Any) -> None:
        if settings.LSIS_ENVIRONMENT == "production":
            raise CommandError("Demo users are for local use only and are never created under production settings.")
        password = options["password"] or settings.DEMO_PASSWORD
        user_model = get_user_model()
        for username, role in DEMO_USERS.items():
            user, created = user_model.objects.get_or_create(username=username)
            user.is_superuser = role is None
            user.is_staff = role is None or role in roles.STAFF_ROLES
            user.is_active = True
            user.set_password(password)
            user.save()
            user.groups.set([Group.objects.get(name=role)] if role else [])
            label = role or "superuser"
            self.stdout.write(f"{'Created' if created else 'Updated'} {username} ({label})")
        self.stdout.write(self.style.SUCCESS(f"Demo users ready; each signs in with the password “{password}”."))

"""Issue an API token for a user and print it once."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from lsis.api.tokens import DEFAULT_EXPIRY_DAYS, MAX_EXPIRY_DAYS, api_token_expiry, api_token_issue


class Command(BaseCommand):
    help = (
        "Issue an API token for USERNAME and print it. It is shown only now: only its hash is stored. "
        "Revoke tokens in the admin (API tokens)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument(
            "--expires-days",
            type=int,
            default=DEFAULT_EXPIRY_DAYS,
            help=(
                f"days until the token expires, at most {MAX_EXPIRY_DAYS} (default {DEFAULT_EXPIRY_DAYS}; 0 for a "
                "token that never expires)"
            ),
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            expires_in = api_token_expiry(days=options["expires_days"])
        except ValueError as error:
            raise CommandError(f"--expires-days: {error}") from error
        user = get_user_model()._default_manager.filter(username=options["username"]).first()
        if user is None:
            raise CommandError(f"There is no user called {options['username']!r}.")
        try:
            record, token = api_token_issue(user=user, expires_in=expires_in)
        except ValueError as error:
            raise CommandError(str(error)) from error
        expiry = f"expires {record.expiry:%d %B %Y %H:%M %Z}" if record.expiry else "never expires"
        self.stderr.write(f"Token for {user.get_username()} ({expiry}). It is shown once; store it safely:")
        self.stdout.write(token)

"""``python manage.py publish_release --quarter 2019-20-Q1``: publish a signed-off quarter's open data."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from metrics.api.views import parse_quarter_code
from metrics.models import ReportingQuarter
from metrics.releases import release_publish


class Command(BaseCommand):
    help = (
        "Publish the open-data release of a signed-off quarter: a new version if its data has changed since the "
        "latest, none otherwise. As --user (who needs the permission to publish releases), or else as the person "
        "who signed the quarter off."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--quarter", required=True, help="The quarter, e.g. 2019-20-Q1 (or 2019-20 Q1).")
        parser.add_argument("--note", default="", help="Why this version restates the one before.")
        parser.add_argument("--user", default="", help="The username to publish as.")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            quarter = parse_quarter_code(options["quarter"])
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from error
        user = self._user(options["user"], quarter)
        try:
            result = release_publish(quarter=quarter, user=user, note=options["note"])
        except (PermissionDenied, ValidationError) as refusal:
            message = " ".join(refusal.messages) if isinstance(refusal, ValidationError) else str(refusal)
            raise CommandError(message) from refusal
        release = result.release
        if result.created:
            self.stdout.write(self.style.SUCCESS(f"Published {release.code}: {release.files.count()} files."))
        else:
            self.stdout.write(f"{release.code} already holds this data: no new version.")

    def _user(self, username: str, quarter: Any) -> Any:
        if username:
            found = get_user_model().objects.filter(username=username).first()
            if found is None:
                raise CommandError(f"There is no user “{username}”.")
            return found
        reporting = ReportingQuarter.objects.filter(year=quarter.year, number=quarter.number).first()
        if reporting is None or reporting.locked_by is None:
            raise CommandError(f"{quarter.label} has not been signed off; its open data is published after sign-off.")
        return reporting.locked_by

"""``python manage.py seed``: load the reference data in fixtures/, idempotently."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from commitments.seeding import SeedError, seed_reference_data


class Command(BaseCommand):
    help = (
        "Load the strategy documents, themes, organisations, programmes, commitments and evidence from "
        "fixtures/. Records already in the database are left as they are, so staff edits are never overwritten."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--fixtures-dir", type=Path, default=settings.FIXTURES_DIR, help="Folder holding the YAML fixtures."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            report = seed_reference_data(fixtures_dir=options["fixtures_dir"])
        except SeedError as error:
            raise CommandError(str(error)) from error
        for line in report.lines():
            self.stdout.write(line)
        total = sum(report.created.values())
        self.stdout.write(self.style.SUCCESS(f"Seed complete: {total} record(s) created."))

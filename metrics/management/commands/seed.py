"""``python manage.py seed``: load the reference data in fixtures/, idempotently."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from commitments.seeding.context import SeedError
from metrics.seeding import seed_reference_data
from metrics.services import metrics_recompute


class Command(BaseCommand):
    help = (
        "Load the strategy documents, themes, organisations, programmes, commitments and evidence from "
        "fixtures/. Records already in the database are left as they are, so staff edits are never overwritten. "
        "With --apply-corrections, records seeded from earlier fixtures are brought to what the fixtures now say, "
        "each correction recorded in the history; records staff have edited since are left alone and reported, "
        "and the stored figures are recomputed."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--fixtures-dir", type=Path, default=settings.FIXTURES_DIR, help="Folder holding the YAML fixtures."
        )
        parser.add_argument(
            "--apply-corrections",
            action="store_true",
            help="Correct records seeded from earlier fixtures (never those staff have edited since).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            report = seed_reference_data(
                fixtures_dir=options["fixtures_dir"], apply_corrections=options["apply_corrections"]
            )
        except SeedError as error:
            raise CommandError(str(error)) from error
        for line in report.lines():
            self.stdout.write(line)
        total = sum(report.created.values())
        message = f"Seed complete: {total} record(s) created."
        if options["apply_corrections"]:
            message += f" {len(report.corrected)} correction(s) applied, {len(report.skipped)} skipped."
        self.stdout.write(self.style.SUCCESS(message))
        if options["apply_corrections"] and report.corrected:
            # Corrections move what the figures read (natures, programmes, a fund's programmes) outside the
            # services that mark them stale: every quarter is recomputed, as the nightly rebuild would.
            recomputed = metrics_recompute()
            self.stdout.write(f"Figures recomputed: {recomputed.quarters} quarter(s).")

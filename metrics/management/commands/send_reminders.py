"""``python manage.py send_reminders``: the day's reminder e-mails, or with ``--dry-run`` who would get what."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from metrics.reminder_services import reminders_send


class Command(BaseCommand):
    help = (
        "Send the day's reminders (what the beat job runs each morning): each person's digest of the quarterly "
        "updates due or overdue and the submissions waiting for review. Nothing already in the ledger is sent "
        "again. --dry-run prints who would be reminded of what and writes nothing; --date runs for another day."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="Print the plan; record and send nothing.")
        parser.add_argument("--date", help="The day to run for, YYYY-MM-DD (default: today).")

    def handle(self, *args: Any, **options: Any) -> None:
        day = timezone.localdate()
        if options["date"]:
            try:
                day = date.fromisoformat(options["date"])
            except ValueError as error:
                raise CommandError(f"“{options['date']}” is not a date; write it as YYYY-MM-DD.") from error
        report = reminders_send(day=day, dry_run=options["dry_run"])
        if options["dry_run"]:
            self.stdout.write(f"Reminders for {day.isoformat()} (dry run: nothing recorded or sent)")
            for digest in report.digests:
                kinds = ", ".join(f"{kind} {period}" for kind, period, _ in digest.reminders)
                self.stdout.write(f"{digest.username} <{digest.address}> [{digest.key}]: {kinds}")
                for section in digest.sections:
                    references = ", ".join(entry.reference for entry in section.entries)
                    more = f" and {section.more} more" if section.more else ""
                    self.stdout.write(f"  {section.kind}: {references}{more}")
            self.stdout.write(f"{len(report.digests)} person(s) would be reminded.")
            return
        self.stdout.write(
            self.style.SUCCESS(
                f"Reminders for {day.isoformat()}: {report.messages} message(s) with {report.reminders} reminder(s) "
                f"recorded, {report.enqueued} handed on for delivery; {report.already} person(s) already had "
                "their digest for the period."
            )
        )

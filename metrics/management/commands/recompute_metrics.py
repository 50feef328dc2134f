"""``python manage.py recompute_metrics``: rebuild the stored figures, or compute them for any date."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from commitments.periods import Quarter
from metrics.engine import Figures
from metrics.services import metrics_as_of, metrics_recompute


class Command(BaseCommand):
    help = (
        "Recompute the stored quarterly figures: every quarter, or one with --quarter. With --as-of DATE, "
        "compute the figures as of any date and print them without storing anything (time travel)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        target = parser.add_mutually_exclusive_group()
        target.add_argument("--quarter", help="A quarter label, e.g. 2019-20 Q1.")
        target.add_argument("--as-of", dest="as_of", help="A date, YYYY-MM-DD: print the figures as of that day.")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["as_of"]:
            try:
                day = date.fromisoformat(options["as_of"])
            except ValueError as error:
                raise CommandError(f"“{options['as_of']}” is not a date; write it as YYYY-MM-DD.") from error
            self._print(day, metrics_as_of(day=day))
            return
        quarters = None
        if options["quarter"]:
            try:
                quarters = [Quarter.from_label(options["quarter"])]
            except ValueError as error:
                raise CommandError(str(error)) from error
        report = metrics_recompute(quarters=quarters)
        if quarters and report.quarters == 0:
            raise CommandError(f"{options['quarter']} is not a quarter the tracker reports on (2017-18 Q2 to now).")
        self.stdout.write(self.style.SUCCESS(f"Recomputed {report.quarters} quarter(s): {report.rows} row(s)."))

    def _print(self, day: date, figures: list[Figures]) -> None:
        self.stdout.write(f"Figures as of {day:%d %B %Y} (computed now, not stored)")
        self.stdout.write(
            "population\tscope\tkey\tcommitments\tdelivered\tin progress\tnot started\toverdue\tstale\t"
            "new money low\thigh"
        )
        for item in figures:
            self.stdout.write(
                f"{item.population}\t{item.scope_type}\t{item.scope_key}\t{item.commitments}\t{item.delivered}\t{item.in_progress}\t"
                f"{item.not_started}\t{item.overdue}\t{item.stale}\t{item.new_money_low:.0f}\t{item.new_money_high:.0f}"
            )

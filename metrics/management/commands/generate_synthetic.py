"""``python manage.py generate_synthetic``: labelled synthetic data for scale tests, in a database of its own."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from metrics.synthetic import RealDataPresentError, generate_synthetic


class Command(BaseCommand):
    help = (
        "Generate clearly labelled synthetic commitments and approved updates (deal SYNTHETIC, references "
        "SYN-000001...) for scale tests. Refuses to run against a database that holds real commitments."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--commitments", type=int, required=True, help="How many commitments to add.")
        parser.add_argument("--updates", type=int, default=0, help="How many approved updates to add.")
        parser.add_argument("--seed", type=int, default=1, help="Random seed: the same seed gives the same data.")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["commitments"] < 0 or options["updates"] < 0:
            raise CommandError("--commitments and --updates cannot be negative.")
        started = time.perf_counter()
        try:
            report = generate_synthetic(
                commitments=options["commitments"], updates=options["updates"], seed=options["seed"]
            )
        except RealDataPresentError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(
            self.style.SUCCESS(
                f"Generated {report.commitments} synthetic commitments and {report.updates} updates "
                f"in {time.perf_counter() - started:.1f} s."
            )
        )

"""``python manage.py verify_delivery_state``: check, and with --repair fix, each commitment's stored state."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from commitments.models import Commitment
from metrics.rules import delivery_state_mismatches
from metrics.services import commitment_refresh_delivery_state

REPAIR_REASON = "Repaired by verify_delivery_state"


class Command(BaseCommand):
    help = (
        "Compare every commitment's stored delivery state with the state its approved updates give it. "
        "Lists each difference; with --repair, stores the derived state. Exits 1 if differences remain."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--repair", action="store_true", help="Store the derived state where it differs.")

    def handle(self, *args: Any, **options: Any) -> None:
        mismatches = delivery_state_mismatches()
        for mismatch in mismatches:
            self.stdout.write(
                f"{mismatch.reference}: stored {mismatch.stored}, approved updates give {mismatch.derived}"
            )
        if not mismatches:
            self.stdout.write(
                self.style.SUCCESS(f"All {Commitment.objects.count()} commitments agree with their updates.")
            )
            return
        if not options["repair"]:
            raise CommandError(f"{len(mismatches)} commitment(s) disagree with their updates; run with --repair.")
        for mismatch in mismatches:
            commitment_refresh_delivery_state(commitment_id=mismatch.commitment_id, reason=REPAIR_REASON)
        self.stdout.write(self.style.SUCCESS(f"Repaired {len(mismatches)} commitment(s)."))

"""Loading the status records the documents report (``evidence:`` of the commitment files).

Each is an approved status update written directly, not through the review workflow: the commitments
given one are noted (``SeedContext.updated``) so that their delivery state and spans are brought up to date
once everything has loaded (``metrics.seeding``).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django.utils import timezone

from commitments.delivery import DeliveryStatus
from commitments.models import StatusUpdate, UpdateState
from commitments.seeding.context import SeedContext
from commitments.seeding.history import save


def evidence_load(ctx: SeedContext, *, evidence: list[tuple[str, dict[str, Any]]]) -> None:
    """Create the status records missing from the database; ``evidence`` holds (place, item) pairs."""
    for place, item in evidence:
        _load_evidence(ctx, place, item)


def _load_evidence(ctx: SeedContext, place: str, item: dict[str, Any]) -> None:
    commitment = ctx.commitments.get(item.get("commitment") or "")
    if commitment is None:
        ctx.error(place, f"unknown commitment {item.get('commitment')!r}")
        return
    source = ctx.document(item.get("source"), place)
    narrative = (item.get("narrative") or "").strip()
    quote = ctx.check_quote(item.get("quote") or narrative, source, place)
    if item.get("status") not in DeliveryStatus.values:
        ctx.error(place, f"unknown status {item.get('status')!r}; use one of {', '.join(DeliveryStatus.values)}")
        return
    if source is None:
        return
    as_of: date = item.get("as_of") or source.published_on
    update = StatusUpdate.objects.filter(commitment=commitment, source_document=source, source_quote=quote).first()
    ctx.record("status updates from documents", update is None)
    if update is None:
        update = StatusUpdate(
            commitment=commitment,
            as_of=as_of,
            status=item["status"],
            narrative=narrative,
            state=UpdateState.APPROVED,
            approved_at=timezone.now(),
            source_document=source,
            source_quote=quote,
        )
        save(update, reason=ctx.new_reason(f"status record of {commitment.reference} from {source.code}"))
        ctx.updated.add(commitment.pk)

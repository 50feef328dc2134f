"""Writes that touch more than one record. Views, admin actions and commands call these.

A commitment's delivery state (status, confidence, progress) is derived from its approved status
updates: the latest by as-of date, then by approval time. It is stored on the commitment so that lists
and metrics read it without a join; ``commitment_refresh_delivery_state`` is the one place that
writes it.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from commitments.delivery import DeliveryStatus
from commitments.models import Commitment, StatusUpdate

SYSTEM_REASON = "Delivery state derived from approved updates"


@dataclass(frozen=True)
class DeliveryState:
    """A commitment's delivery state at a moment."""

    status: str
    confidence: str
    progress: int | None


NO_UPDATE_STATE = DeliveryState(status=DeliveryStatus.NOT_STARTED, confidence="", progress=None)
_PROGRESS_IMPLIED_BY_STATUS: dict[str, int] = {DeliveryStatus.DELIVERED: 100, DeliveryStatus.NOT_STARTED: 0}


def commitment_derive_delivery_state(*, commitment_id: int) -> DeliveryState:
    """Return the state the approved updates of a commitment give it, without saving anything."""
    latest = StatusUpdate.objects.filter(commitment_id=commitment_id).approved().latest_first().first()
    if latest is None:
        return NO_UPDATE_STATE
    return DeliveryState(
        status=latest.status,
        confidence=latest.confidence,
        # An update without a figure implies one only where its status does (delivered, not started).
        progress=latest.progress if latest.progress is not None else _PROGRESS_IMPLIED_BY_STATUS.get(latest.status),
    )


@transaction.atomic
def commitment_refresh_delivery_state(*, commitment_id: int) -> bool:
    """Store the derived delivery state on the commitment; return whether it changed."""
    commitment = Commitment.objects.select_for_update().get(pk=commitment_id)
    state = commitment_derive_delivery_state(commitment_id=commitment_id)
    current = DeliveryState(commitment.delivery_status, commitment.delivery_confidence, commitment.progress)
    if current == state:
        return False
    commitment.delivery_status = state.status
    commitment.delivery_confidence = state.confidence
    commitment.progress = state.progress
    commitment._change_reason = SYSTEM_REASON  # type: ignore[attr-defined]
    commitment.save(update_fields=["delivery_status", "delivery_confidence", "progress", "modified_at"])
    return True

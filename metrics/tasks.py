"""Celery tasks that keep the figures fresh. They take no model instances, only what to do.

Every task is safe to run twice (recomputation upserts the same rows), so all run with ``acks_late``:
a worker that dies mid-task leaves the message to be delivered again, and its transaction is rolled
back, leaving the outbox markers in place.
"""

from __future__ import annotations

from typing import Any

from celery import shared_task
from django.db import DatabaseError, InterfaceError, OperationalError

from commitments.periods import Quarter, last_completed
from metrics.services import RECOMPUTE_TASK, markers_process, metrics_recompute

_RELIABLE: dict[str, Any] = {
    "acks_late": True,
    "reject_on_worker_lost": True,
    "autoretry_for": (OperationalError, InterfaceError, DatabaseError),
    "retry_backoff": 2,
    "retry_backoff_max": 120,
    "retry_jitter": True,
    "max_retries": 8,
    "soft_time_limit": 240,
    "time_limit": 300,
}


@shared_task(name=RECOMPUTE_TASK, **_RELIABLE)
def recompute_pending() -> int:
    """Recompute what the pending outbox markers name. Also the periodic sweep."""
    return markers_process()


@shared_task(name="metrics.rebuild_all", **_RELIABLE)
def rebuild_all() -> int:
    """Recompute every quarter: the nightly full rebuild."""
    return metrics_recompute().rows


@shared_task(name="metrics.rebuild_quarter", **_RELIABLE)
def rebuild_quarter(label: str) -> int:
    """Recompute one quarter, given its label (``2019-20 Q1``)."""
    return metrics_recompute(quarters=[Quarter.from_label(label)]).rows


@shared_task(name="metrics.quarter_end_snapshot", **_RELIABLE)
def quarter_end_snapshot() -> int:
    """At the start of a quarter, recompute the quarter that has just ended, so its figures are complete."""
    return metrics_recompute(quarters=[last_completed()]).rows

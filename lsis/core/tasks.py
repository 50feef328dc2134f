"""Periodic tasks of the change feed (``lsis.core.feed``): the sweep and the nightly reconciliation."""

from __future__ import annotations

from typing import Any

from celery import shared_task
from django.db import DatabaseError, InterfaceError, OperationalError

from lsis.core.feed import changes_publish, changes_reconcile

# How every task of the tracker survives a lost worker or database: acknowledged once done (a killed worker's
# message is delivered again), retried with backoff on database errors, and stopped if it runs away. The
# feed's tasks are safe to run twice or at once: publishing is serialised on the feed's lock, and appends
# only what differs. The metrics app's tasks take the same options.
RELIABLE: dict[str, Any] = {
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


@shared_task(name="core.changes_publish", **RELIABLE)
def publish_changes() -> int:
    """Publish what a process killed after its commit left pending (every minute); return the entries written."""
    return changes_publish()


@shared_task(name="core.changes_reconcile", **RELIABLE)
def reconcile_changes() -> int:
    """Compare every record with the feed and append what differs (nightly); return the entries written."""
    return changes_reconcile()

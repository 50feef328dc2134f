"""Celery tasks that keep the figures fresh. They take no model instances, only what to do.

Every task is safe to run twice (recomputation upserts the same rows), so all run with ``acks_late``:
a worker that dies mid-task leaves the message to be delivered again, and its transaction is rolled
back, leaving the outbox markers in place.
"""

from __future__ import annotations

from typing import Any

from celery import shared_task
from django.utils import timezone

from commitments.periods import Quarter, last_completed
from lsis.core.heartbeats import job_heartbeat_record
from lsis.core.messaging import MessageBusyError, message_deliver
from lsis.core.notify import notify_statuses_poll
from lsis.core.tasks import RELIABLE
from metrics.feed_kinds import day_passed
from metrics.releases import release_publish_signed_off
from metrics.reminder_services import queued_messages_ids, reminders_send
from metrics.services import PUBLISH_RELEASE_TASK, RECOMPUTE_TASK, markers_process, metrics_recompute


@shared_task(name=RECOMPUTE_TASK, **RELIABLE)
def recompute_pending() -> int:
    """Recompute what the pending outbox markers name. Also the periodic sweep.

    A run that succeeds records its heartbeat, which the readiness check (``/readyz``) reads.
    """
    processed = markers_process()
    job_heartbeat_record(name=RECOMPUTE_TASK)
    return processed


@shared_task(name="metrics.rebuild_all", **RELIABLE)
def rebuild_all() -> int:
    """Recompute every quarter: the nightly full rebuild."""
    return metrics_recompute().rows


@shared_task(name="metrics.rebuild_quarter", **RELIABLE)
def rebuild_quarter(label: str) -> int:
    """Recompute one quarter, given its label (``2019-20 Q1``)."""
    return metrics_recompute(quarters=[Quarter.from_label(label)]).rows


@shared_task(name="metrics.quarter_end_snapshot", **RELIABLE)
def quarter_end_snapshot() -> int:
    """At the start of a quarter, recompute the quarter that has just ended, so its figures are complete."""
    return metrics_recompute(quarters=[last_completed()]).rows


@shared_task(name=PUBLISH_RELEASE_TASK, **RELIABLE)
def publish_release(quarter_id: int) -> int | None:
    """Publish the open-data release of a quarter just signed off, given its key; return the version.

    Safe to run twice: the second run finds the same data published and publishes nothing.
    """
    result = release_publish_signed_off(quarter_id=quarter_id)
    return result.release.version if result is not None else None


# --- Reminders by e-mail (metrics.reminder_services, lsis.core.messaging) ----------------------------------


@shared_task(name="metrics.feed_day_passed", **RELIABLE)
def feed_day_passed() -> int:
    """Just after midnight: the commitments whose overdue flags turned today go to the change feed."""
    return day_passed(today=timezone.localdate())


@shared_task(name="metrics.send_reminders", **RELIABLE)
def send_reminders() -> int:
    """Plan, record and send today's reminders (the ledger makes a second run send nothing); return the messages."""
    return reminders_send(day=timezone.localdate()).messages


@shared_task(name="metrics.deliver_message", bind=True, **RELIABLE)
def deliver_message(self: Any, message_id: int) -> str | None:
    """Send one queued message, given its primary key; a message already sent is left alone.

    One that another delivery holds (a killed worker's session, until the database drops it) is tried again
    shortly, and is then found sent or still to send.
    """
    try:
        return message_deliver(message_id=message_id)
    except MessageBusyError as busy:
        raise self.retry(exc=busy, countdown=5) from busy


@shared_task(name="metrics.send_queued_messages", **RELIABLE)
def send_queued_messages() -> int:
    """Send the messages a lost task, a broker outage or a failed provider left queued or failed; return how many."""
    delivered = 0
    for pk in queued_messages_ids():
        try:
            delivered += message_deliver(message_id=pk) is not None
        except MessageBusyError:
            continue  # another delivery holds it
    return delivered


@shared_task(name="metrics.poll_notify_statuses", **RELIABLE)
def poll_notify_statuses() -> int:
    """Record GOV.UK Notify's delivery status of the messages sent through it; return how many changed."""
    return notify_statuses_poll()

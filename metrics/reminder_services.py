"""Sending the day's reminders: the plan (``metrics.reminders``) written to the ledger, then delivered.

Per batch of people, in one transaction: the digests are inserted as ``Message`` rows (ignoring any a
person already has for the digest period) tagged with this run's uuid, and the run reads back which are
its own; only for those are the ``Reminder`` rows inserted (ignoring any already in the ledger), and only
those inserted count. Two runs at once therefore never both send a person's digest: the second's insert
waits for the first's transaction and then finds the row there. After the commit, each message is handed to
the ``metrics.deliver_message`` task; a broker that is down leaves it queued for
``metrics.send_queued_messages``.
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date

from django.db import transaction
from kombu.exceptions import OperationalError as BrokerError

from lsis.celery import enqueue_within_timeout
from lsis.core.models import Message, MessageStatus, Reminder
from metrics.reminders import Digest, plan_batches

logger = logging.getLogger(__name__)

DELIVER_TASK = "metrics.deliver_message"


@dataclass
class RunReport:
    """What a run planned, wrote and handed on."""

    day: date
    dry_run: bool
    run: uuid.UUID
    digests: list[Digest] = field(default_factory=list)  # planned (all of them on a dry run)
    messages: int = 0  # written by this run
    reminders: int = 0  # written by this run
    already: int = 0  # planned, but the person already had a digest for the period (another run's)
    enqueued: int = 0  # handed to the broker (or run in-process without one)


def _enqueue(message_ids: list[int], report: RunReport) -> None:
    """Hand each message to the delivery task; stop at the first broker error (the sweep sends the rest)."""
    for pk in message_ids:
        try:
            enqueue_within_timeout(DELIVER_TASK, pk)
        except BrokerError as error:
            logger.warning(
                "Could not enqueue %s message(s) for delivery (%s); send_queued_messages will send them.",
                len(message_ids) - report.enqueued,
                error,
            )
            return
        report.enqueued += 1


@transaction.atomic
def _write_batch(*, digests: list[Digest], report: RunReport) -> list[int]:
    """Write one batch's messages and reminders; return the ids of the messages this run wrote."""
    Message.objects.bulk_create(
        [
            Message(
                recipient_id=digest.recipient_id,
                key=digest.key,
                address=digest.address,
                subject=digest.subject[:300],
                body=digest.body,
                run=report.run,
            )
            for digest in digests
        ],
        ignore_conflicts=True,
    )
    by_person = {digest.recipient_id: digest for digest in digests}
    ours = dict(
        Message.objects.filter(
            run=report.run, recipient_id__in=list(by_person), key__in={d.key for d in digests}
        ).values_list("recipient_id", "pk")
    )
    report.already += len(by_person) - len(ours)
    Reminder.objects.bulk_create(
        [
            Reminder(recipient_id=person, kind=kind, period=period, message_id=message_id, detail=detail)
            for person, message_id in ours.items()
            for kind, period, detail in by_person[person].reminders
        ],
        ignore_conflicts=True,
    )
    written: dict[int, set[tuple[str, str]]] = defaultdict(set)
    for message_id, kind, period in Reminder.objects.filter(message_id__in=list(ours.values())).values_list(
        "message_id", "kind", "period"
    ):
        written[message_id].add((kind, period))
    report.reminders += sum(len(kinds) for kinds in written.values())
    # A reminder another run recorded first (a rare race between runs for different days) is not sent
    # again: a message left carrying none is withdrawn before anyone sees it.
    empty = [message_id for message_id in ours.values() if not written[message_id]]
    if empty:
        Message.objects.filter(pk__in=empty).delete()
    sent = [message_id for message_id in ours.values() if written[message_id]]
    report.messages += len(sent)
    return sent


def reminders_send(*, day: date, dry_run: bool = False) -> RunReport:
    """Plan the reminders of ``day`` and, unless ``dry_run``, record and send them; return what was done.

    Safe to run twice, or twice at once: the ledger's and the messages' unique keys decide, and only what
    a run itself inserted is sent by it. A dry run writes nothing and returns the plan.
    """
    report = RunReport(day=day, dry_run=dry_run, run=uuid.uuid4())
    for digests in plan_batches(day=day):
        report.digests.extend(digests)
        if dry_run:
            continue
        with transaction.atomic():
            written = _write_batch(digests=digests, report=report)
            transaction.on_commit(lambda ids=written: _enqueue(ids, report))  # type: ignore[misc]
    return report


def queued_messages_ids(*, older_than_minutes: int = 5, limit: int = 500) -> list[int]:
    """Messages still to send (queued, or failed and to be tried again) written more than a few minutes ago."""
    from datetime import timedelta

    from django.utils import timezone

    cutoff = timezone.now() - timedelta(minutes=older_than_minutes)
    return list(
        Message.objects.filter(status__in=[MessageStatus.QUEUED, MessageStatus.FAILED], created_at__lt=cutoff)
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )

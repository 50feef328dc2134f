"""After the load: what the drill guarantees, read from the database (and the e-mails written to files).

- every approval answered 2xx is stored as approved;
- the stored figures equal a full recompute (``recompute_metrics``), compared row by row as the
  reliability tests compare them (``tests.celery_worker.snapshot``);
- no reminder was sent twice: at most one ``Reminder`` per person, kind and period, at most one
  ``Message`` per person and day, and at most one e-mail written per person and day;
- how long after the last fault the figures were fresh again (no ``RecomputeMarker`` left).
"""

from __future__ import annotations

import email
import json
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from django.core.management import call_command
from django.db import connection, connections
from django.db.models import Count

from commitments.models import StatusUpdate, UpdateState
from lsis.core.models import Message, MessageStatus, Reminder
from metrics.models import RecomputeMarker
from tests.celery_worker import snapshot


@dataclass(frozen=True)
class Freshness:
    """When the outbox of recompute markers was found empty, in s after the last fault ended (None: never)."""

    seconds: float | None
    markers_left: int
    after_load: float = 0.0


@dataclass(frozen=True)
class Figures:
    equal: bool
    rows: int
    differing: int


@dataclass(frozen=True)
class Reminders:
    messages: int
    sent: int
    queued: int
    emails: int
    duplicate_reminders: int
    duplicate_messages: int
    duplicate_emails: int

    @property
    def duplicates(self) -> int:
        """Every kind of duplicate together."""
        return self.duplicate_reminders + self.duplicate_messages + self.duplicate_emails


def markers_left() -> int:
    """How many recompute markers are pending (a fresh connection: the server may have restarted)."""
    connections.close_all()
    try:
        return RecomputeMarker.objects.count()
    finally:
        connections.close_all()


def wait_fresh(*, since: float, timeout: float) -> Freshness:
    """Poll until no recompute marker is left; ``since`` is the monotonic time the last fault ended.

    Called once the clients have stopped: while they approve updates, new markers keep coming.
    """
    load_ended = time.monotonic()
    deadline = load_ended + timeout
    while True:
        left = markers_left()
        if left == 0:
            now = time.monotonic()
            return Freshness(now - since, 0, now - load_ended)
        if time.monotonic() > deadline:
            return Freshness(None, left)
        time.sleep(0.25)


def approvals_found(uuids: list[str]) -> int:
    """How many of ``uuids`` are stored as approved."""
    connections.close_all()
    return StatusUpdate.objects.filter(uuid__in=uuids, state=UpdateState.APPROVED).count()


def figures_against_recompute(log: Path) -> Figures:
    """Snapshot the stored figures, recompute everything in full, and compare row by row."""
    connections.close_all()
    stored = snapshot(connection)
    with open(log, "a", encoding="utf-8") as out:
        call_command("recompute_metrics", stdout=out, stderr=out)
    recomputed = snapshot(connection)
    differing = len(set(stored) ^ set(recomputed))
    return Figures(stored == recomputed, len(recomputed), differing)


def server_error_causes(web_log: Path) -> Counter[str]:
    """What the web log says each server error was: the exception's last line, counted."""
    causes: Counter[str] = Counter()
    if not web_log.exists():
        return causes
    for line in web_log.read_text(encoding="utf-8", errors="replace").splitlines():
        if not line.startswith("{") or "Internal Server Error" not in line:
            continue
        try:
            record = json.loads(line)
        except ValueError:
            continue
        lines = [text for text in str(record.get("exception", "")).splitlines() if text and not text[0].isspace()]
        causes[lines[-1][:160] if lines else str(record.get("event", ""))] += 1
    return causes


def _emails(folder: Path) -> Counter[tuple[str, str]]:
    """E-mails written by the file backend, counted per (recipient, day of the Date header)."""
    counts: Counter[tuple[str, str]] = Counter()
    for path in folder.glob("*.log") if folder.exists() else []:
        # The file backend writes each message followed by a line of 79 dashes.
        for chunk in path.read_text(encoding="utf-8", errors="replace").split("-" * 79):
            if not chunk.strip():
                continue
            parsed = email.message_from_string(chunk.strip())
            counts[(str(parsed["To"]), str(parsed["Date"])[:16])] += 1
    return counts


def reminders_check(mail_folder: Path) -> Reminders:
    """Count what the reminders wrote and sent, and every duplicate: by the ledger, by message, by e-mail."""
    connections.close_all()
    dup_reminders = (
        Reminder.objects.values("recipient", "kind", "period").annotate(n=Count("id")).filter(n__gt=1).count()
    )
    per_day = Counter((m.recipient_id, m.created_at.date()) for m in Message.objects.only("recipient", "created_at"))
    emails = _emails(mail_folder)
    return Reminders(
        messages=Message.objects.count(),
        sent=Message.objects.filter(status=MessageStatus.SENT).count(),
        queued=Message.objects.filter(status__in=[MessageStatus.QUEUED, MessageStatus.FAILED]).count(),
        emails=sum(emails.values()),
        duplicate_reminders=dup_reminders,
        duplicate_messages=sum(1 for n in per_day.values() if n > 1),
        duplicate_emails=sum(1 for n in emails.values() if n > 1),
    )

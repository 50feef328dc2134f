"""Who is reminded of what on a day: the plan of the reminder e-mails, read in a constant number of queries.

Kinds, each keyed in the ledger (``lsis.core.models.Reminder``) by recipient, kind and period:

- to a commitment's owner (never its contributors), for the owner's commitments still outstanding in the
  cycle (``Cycle.outstanding``), period the cycle's quarter: ``due_soon`` from 14 days before the due day,
  ``due_today`` from the due day, ``overdue`` from 7 days after it;
- to every active reviewer: ``escalation`` from 14 days after the due day, listing the outstanding
  commitments with their owners (period the quarter); ``review_waiting``, the submissions waiting more than
  5 working days that the reviewer may review (four eyes), period the day.

A kind applies from its day on while anything it names is outstanding, so a run that comes late still
sends what an earlier one would have (nothing is skipped), and a reminder already in the ledger is never
planned again. Of an owner's kinds, every one that applies and is not yet in the ledger is recorded; the
digest words the commitments by the most urgent. People choose how often (``StaffProfile``): never (no
e-mail, and the ledger is left as it is), daily (a digest on a day something is new) or weekly (a digest
on Mondays with all that is due). Inactive users and users without an e-mail address get nothing.

The plan is read per batch of people: their outstanding commitments and their ledger entries are one
query each per batch, whatever the number of people or commitments; what every reviewer is sent (the
escalation and the submissions waiting) is read once per run.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils import timezone

from commitments import roles
from commitments.api.permissions import STAFF_VIEW_PERMISSION
from commitments.models import Commitment, StatusUpdate, UpdateState
from commitments.periods import working_days_between
from commitments.services import REVIEWER_PERMISSION, update_content_edits
from lsis.core.models import Reminder, ReminderFrequency, StaffProfile
from metrics.update_cycle import Cycle

DUE_SOON = "due_soon"
DUE_TODAY = "due_today"
OVERDUE = "overdue"
ESCALATION = "escalation"
REVIEW_WAITING = "review_waiting"

#: The owner's kinds, least urgent first, and the days from the due day each applies from.
OWNER_KINDS: tuple[tuple[str, int], ...] = ((DUE_SOON, -14), (DUE_TODAY, 0), (OVERDUE, 7))
ESCALATION_DAYS = 14
#: A submission is reminded of once it has waited more than this many working days.
REVIEW_WAITING_WORKING_DAYS = 5
#: The most items a section lists; the rest are counted, and on the tasks page.
LISTED = 50
#: People planned per batch.
BATCH_SIZE = 500


@dataclass(frozen=True)
class Entry:
    """One line of a digest: a commitment, with what the recipient needs to know of it."""

    reference: str
    text: str
    note: str = ""

    @property
    def url(self) -> str:
        """The commitment's page."""
        return f"{settings.SITE_URL.rstrip('/')}/commitments/{self.reference}/"


@dataclass(frozen=True)
class Section:
    """A heading and its entries: what one kind of reminder says."""

    kind: str
    heading: str
    entries: tuple[Entry, ...]
    more: int = 0  # entries not listed


@dataclass
class Digest:
    """One person's e-mail for the run: the reminders it records (kind, period) and what it says."""

    recipient_id: int
    username: str
    name: str
    address: str
    key: str
    reminders: list[tuple[str, str, str]] = field(default_factory=list)  # (kind, period, detail)
    sections: list[Section] = field(default_factory=list)

    @property
    def subject(self) -> str:
        """The e-mail's subject: the headings, most urgent first."""
        return "LSIS Tracker: " + "; ".join(section.heading for section in self.sections)

    @property
    def body(self) -> str:
        """The e-mail's plain text: every entry with its link, and the tasks page."""
        site = settings.SITE_URL.rstrip("/")
        lines = [f"Dear {self.name},", ""]
        for section in self.sections:
            lines.append(section.heading)
            lines.append("")
            for entry in section.entries:
                text = entry.text if len(entry.text) <= 120 else entry.text[:119] + "…"
                lines.append(f"- {entry.reference}: {text}")
                if entry.note:
                    lines.append(f"  {entry.note}")
                lines.append(f"  {entry.url}")
            if section.more:
                lines.append(f"- and {section.more} more: see your tasks.")
            lines.append("")
        lines.append(f"Your tasks: {site}/tasks/")
        lines.append("")
        lines.append("You can change how often you get these reminders on your tasks page.")
        return "\n".join(lines)


@dataclass(frozen=True)
class _Shared:
    """What every reviewer is sent, read once per run."""

    escalations: list[tuple[str, Section]]  # (the cycle's period, its section)
    waiting: list[tuple[Entry, set[int]]]  # a submission waiting, and who may not review it (four eyes)


def digest_key(*, frequency: str, day: date) -> str:
    """The digest period a person's e-mail on ``day`` belongs to: ``daily:2026-12-07`` or ``weekly:2026-W50``."""
    if frequency == ReminderFrequency.WEEKLY:
        year, week, _ = day.isocalendar()
        return f"weekly:{year}-W{week:02d}"
    return f"daily:{day.isoformat()}"


def owner_kinds_applying(cycle: Cycle, day: date) -> list[str]:
    """The owner's kinds that apply on ``day`` in ``cycle``, least urgent first."""
    return [kind for kind, offset in OWNER_KINDS if day >= cycle.due_on + timedelta(days=offset)]


def cycles_in_play(day: date) -> list[Cycle]:
    """The cycles reminded of on ``day``: the one under way (``Cycle.on``), and the next once it is due soon.

    The due day is about two weeks after a quarter ends, so "due soon" (14 days before it) can begin on the
    quarter's last days, before its cycle is the one under way.
    """
    current = Cycle.on(day)
    upcoming = Cycle.for_quarter(current.quarter.next())
    return [current, upcoming] if owner_kinds_applying(upcoming, day) else [current]


def _headings(cycle: Cycle) -> dict[str, str]:
    due = f"{cycle.due_on.day} {cycle.due_on:%B %Y}"
    return {
        DUE_SOON: f"Your {cycle.period} updates are due by {due}",
        DUE_TODAY: f"Your {cycle.period} updates are due today, {due}",
        OVERDUE: f"Your {cycle.period} updates are overdue (due {due})",
        ESCALATION: f"{cycle.period} updates {ESCALATION_DAYS} days or more overdue (due {due})",
        REVIEW_WAITING: f"Updates waiting for your review for more than {REVIEW_WAITING_WORKING_DAYS} working days",
    }


def _section(kind: str, heading: str, entries: Sequence[Entry], total: int | None = None) -> Section:
    listed = tuple(entries[:LISTED])
    return Section(kind=kind, heading=heading, entries=listed, more=(total or len(entries)) - len(listed))


def _person_name(first: str, last: str, username: str) -> str:
    return f"{first} {last}".strip() or username


def _shared(cycles: list[Cycle], day: date) -> _Shared:
    """The escalations' lists and the submissions waiting: a few queries, once per run."""
    escalations = []
    for cycle in cycles:
        if day < cycle.due_on + timedelta(days=ESCALATION_DAYS):
            continue
        outstanding = cycle.outstanding().order_by("reference")
        total = outstanding.count()
        if total:
            rows = outstanding.values_list(
                "reference", "text", "owner__first_name", "owner__last_name", "owner__username"
            )[:LISTED]
            entries = [
                Entry(reference, text, f"Owner: {_person_name(first, last, user) if user else 'none named'}")
                for reference, text, first, last, user in rows
            ]
            escalations.append((cycle.period, _section(ESCALATION, _headings(cycle)[ESCALATION], entries, total)))
    # More than 5 working days is at least 7 calendar days: only those can qualify.
    tz = timezone.get_current_timezone()
    before = datetime.combine(day - timedelta(days=REVIEW_WAITING_WORKING_DAYS + 1), datetime.min.time(), tz)
    submitted = list(
        StatusUpdate.objects.filter(state=UpdateState.SUBMITTED, submitted_at__lt=before)
        .order_by("submitted_at", "pk")
        .values_list("pk", "author_id", "submitted_at", "as_of", "commitment__reference", "commitment__text")
    )
    waiting_rows = [
        row
        for row in submitted
        if working_days_between(timezone.localtime(row[2], tz).date(), day) > REVIEW_WAITING_WORKING_DAYS
    ]
    editors: dict[int, set[int]] = defaultdict(set)
    if waiting_rows:
        ids = [row[0] for row in waiting_rows]
        own, links = update_content_edits()  # who wrote or changed an update's content: four eyes' one definition
        pairs = (
            own.filter(id__in=ids)
            .values_list("id", "history_user_id")
            .union(links.filter(update_id__in=ids).values_list("update_id", "history_user_id"))
        )
        for update_id, user_id in pairs:
            editors[update_id].add(user_id)
    waiting = []
    for pk, author_id, submitted_at, as_of, reference, text in waiting_rows:
        excluded = editors[pk] | ({author_id} if author_id is not None else set())
        submitted_on = timezone.localtime(submitted_at, tz).date()
        waited = working_days_between(submitted_on, day)
        note = f"Update as of {as_of:%-d %B %Y}, submitted {submitted_on:%-d %B %Y}: {waited} working days waiting"
        waiting.append((Entry(reference, text, note), excluded))
    return _Shared(escalations=escalations, waiting=waiting)


def _people() -> Any:
    """Everyone who may get e-mail: active, with an address, and not opted out."""
    return (
        get_user_model()
        .objects.filter(is_active=True)
        .exclude(email="")
        .exclude(staff_profile__reminder_frequency=ReminderFrequency.NONE)
        .order_by("pk")
    )


def plan_batches(*, day: date, batch_size: int = BATCH_SIZE) -> Iterator[list[Digest]]:
    """The digests to send on ``day``, batch by batch of people (those with something new only).

    Queries: a handful once per run (the cycle's escalation, the submissions waiting, who reviews, who sees
    unpublished commitments), then three per batch (the people, their outstanding commitments, their
    ledger), whatever the batch holds.
    """
    cycles = [(cycle, owner_kinds_applying(cycle, day), _headings(cycle)) for cycle in cycles_in_play(day)]
    shared = _shared([cycle for cycle, _, _ in cycles], day)
    waiting_heading = _headings(cycles[0][0])[REVIEW_WAITING]
    users = get_user_model().objects
    # Permissions come from groups and users (axes's backend grants none): ModelBackend answers with_perm.
    backend = "django.contrib.auth.backends.ModelBackend"
    reviewer_ids = set(users.filter(is_active=True, groups__name=roles.REVIEWER).values_list("pk", flat=True)) & set(
        users.with_perm(REVIEWER_PERMISSION, is_active=True, backend=backend).values_list("pk", flat=True)
    )
    sees_unpublished = set(
        users.with_perm(STAFF_VIEW_PERMISSION, is_active=True, backend=backend).values_list("pk", flat=True)
    )
    profile_default = StaffProfile._meta.get_field("reminder_frequency").get_default()
    periods = [cycle.period for cycle, _, _ in cycles] + [day.isoformat()]
    last_pk = 0
    while True:
        batch = list(
            _people()
            .filter(pk__gt=last_pk)
            .values_list("pk", "username", "first_name", "last_name", "email", "staff_profile__reminder_frequency")[
                :batch_size
            ]
        )
        if not batch:
            return
        last_pk = batch[-1][0]
        # Weekly digests go on Mondays only: on other days those people are not planned at all.
        batch = [row for row in batch if (row[5] or profile_default) != ReminderFrequency.WEEKLY or day.weekday() == 0]
        ids = [row[0] for row in batch]
        # Per cycle in play, each owner's outstanding commitments: one query per cycle, whatever the batch.
        owned: dict[tuple[str, int], list[Entry]] = defaultdict(list)
        for cycle, applying, _ in cycles:
            if not (applying and ids):
                continue
            rows = (
                cycle.outstanding(Commitment.objects.filter(owner_id__in=ids))
                .order_by("reference")
                .values_list("owner_id", "reference", "text", "published")
            )
            for owner_id, reference, text, published in rows:
                # Never list what the recipient may not see: an owner without staff access sees published ones.
                if published or owner_id in sees_unpublished:
                    owned[cycle.period, owner_id].append(Entry(reference, text))
        ledger: set[tuple[int, str, str]] = set()
        if ids:
            ledger = set(
                Reminder.objects.filter(recipient_id__in=ids, period__in=periods).values_list(
                    "recipient_id", "kind", "period"
                )
            )
        digests = []
        for pk, username, first, last, email, frequency in batch:
            digest = Digest(
                recipient_id=pk,
                username=username,
                name=_person_name(first, last, username),
                address=email,
                key=digest_key(frequency=frequency or profile_default, day=day),
            )
            for cycle, applying, headings in cycles:
                entries = owned.get((cycle.period, pk))
                new = [kind for kind in applying if (pk, kind, cycle.period) not in ledger]
                if entries and new:
                    detail = ", ".join(entry.reference for entry in entries)
                    digest.reminders.extend((kind, cycle.period, detail) for kind in new)
                    # The stage moved on: the most urgent wording that applies.
                    digest.sections.append(_section(applying[-1], headings[applying[-1]], entries))
            if pk in reviewer_ids:
                for period, escalation in shared.escalations:
                    if (pk, ESCALATION, period) not in ledger:
                        detail = ", ".join(entry.reference for entry in escalation.entries)
                        digest.reminders.append((ESCALATION, period, detail))
                        digest.sections.append(escalation)
                mine = [entry for entry, excluded in shared.waiting if pk not in excluded]
                if mine and (pk, REVIEW_WAITING, day.isoformat()) not in ledger:
                    detail = ", ".join(entry.reference for entry in mine)
                    digest.reminders.append((REVIEW_WAITING, day.isoformat(), detail))
                    digest.sections.append(_section(REVIEW_WAITING, waiting_heading, mine))
            if digest.reminders:
                digest.sections.sort(key=lambda section: _URGENCY.index(section.kind))
                digests.append(digest)
        if digests:
            yield digests


# Most urgent first: the order of a digest's sections.
_URGENCY = [ESCALATION, OVERDUE, REVIEW_WAITING, DUE_TODAY, DUE_SOON]

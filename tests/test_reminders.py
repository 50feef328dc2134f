"""Reminders by e-mail: the kinds on their days, the ledger (never twice, never skipped), preferences, the command.

The cycle used is 2026-27 Q2's (July to September 2026), whose updates are due on 14 October 2026; the
seeded data has commitments owing it, a few of which are given owners here. Celery runs in-process, so a
run's messages are delivered (to Django's in-memory outbox) when its transaction commits.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from io import StringIO
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.models import Group
from django.core import mail
from django.core.management import CommandError, call_command
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext

from commitments import roles
from commitments.models import Commitment, StatusUpdate
from commitments.periods import Quarter
from commitments.services import update_create, update_submit
from lsis.celery import app
from lsis.core.models import Message, MessageStatus, Reminder, ReminderFrequency, StaffProfile
from metrics.reminder_services import reminders_send
from metrics.tasks import send_queued_messages
from metrics.update_cycle import Cycle
from tests.factories import UserFactory
from tests.helpers import owners_assign
from tests.test_celery_reliability import broker_down  # noqa: F401 (a fixture, Celery's broker on a closed port)

QUARTER = Quarter(2026, 2)
CYCLE = Cycle.for_quarter(QUARTER)
DUE = CYCLE.due_on  # Wednesday 14 October 2026


@pytest.fixture
def eager() -> Iterator[None]:
    """Celery tasks run in-process whatever the environment's broker, as on the embedded default."""
    changes = app.conf.changes
    saved = changes.get("task_always_eager") if changes is not None else None
    app.conf.update(task_always_eager=True)
    try:
        yield
    finally:
        if changes is not None:
            changes.pop("task_always_eager", None)
        if saved is not None:
            app.conf.update(task_always_eager=saved)


def _person(role: str | None = roles.EDITOR, *, frequency: str | None = None, **extra: Any) -> Any:
    user = UserFactory.create(is_staff=True, **extra)
    if role:
        user.groups.add(Group.objects.get(name=role))
    if frequency:
        StaffProfile.objects.create(user=user, reminder_frequency=frequency)
    return user


def _owing(count: int) -> list[Commitment]:
    commitments = list(CYCLE.outstanding().filter(owner__isnull=True).order_by("reference")[:count])
    assert len(commitments) == count, "the seed has fewer commitments owing the cycle than the test needs"
    return commitments


def _own(owner: Any, commitments: list[Commitment]) -> None:
    owners_assign(owner, commitments)


@pytest.fixture
def run(eager: None, django_capture_on_commit_callbacks: Any) -> Callable[..., str]:
    """Run ``send_reminders`` for a day through the command; deliveries happen as its transactions commit."""

    def go(day: date, *args: str) -> str:
        out = StringIO()
        with django_capture_on_commit_callbacks(execute=True):
            call_command("send_reminders", "--date", day.isoformat(), *args, stdout=out)
        return out.getvalue()

    return go


def _kinds(user: Any, period: str = QUARTER.label) -> set[tuple[str, str]]:
    """The reminders in the ledger for ``user`` of ``period`` (the cycle under test, by default)."""
    return set(Reminder.objects.filter(recipient=user, period=period).values_list("kind", "period"))


def _mails_to(user: Any, about: str = QUARTER.label) -> list[Any]:
    """The e-mails ``user`` was sent that speak of ``about`` (the cycle under test, by default).

    The commitments owing the cycle owed the one before too, so a first run also reminds of that one.
    """
    return [message for message in mail.outbox if message.to == [user.email] and about in message.body]


@pytest.mark.django_db
def test_the_owner_is_reminded_14_days_before_on_the_day_and_7_days_after(run: Callable[..., str]) -> None:
    owner = _person()
    contributor = _person()
    owned = _owing(2)
    _own(owner, owned)
    owned[0].contributors.add(contributor)

    run(DUE - timedelta(days=15))
    assert _mails_to(owner) == []
    assert _kinds(owner, "2026-27 Q1") == {(kind, "2026-27 Q1") for kind in ("due_soon", "due_today", "overdue")}
    run(DUE - timedelta(days=14))  # 30 September, the quarter's last day: its cycle is due soon
    [soon] = _mails_to(owner)
    assert "due by 14 October 2026" in soon.subject
    assert all(f"{settings.SITE_URL}/commitments/{c.reference}/" in soon.body for c in owned)
    assert f"{settings.SITE_URL}/tasks/" in soon.body
    assert _kinds(owner) == {("due_soon", QUARTER.label)}
    for day in (DUE - timedelta(days=1), DUE + timedelta(days=6)):
        run(day)
    assert len(_mails_to(owner)) == 2  # due soon; due today (the day before and 6 days after: nothing new)
    assert "due today" in _mails_to(owner)[1].subject
    run(DUE + timedelta(days=7))
    assert "overdue" in _mails_to(owner)[2].subject
    assert _kinds(owner) == {(kind, QUARTER.label) for kind in ("due_soon", "due_today", "overdue")}
    # Contributors are not reminded.
    assert _mails_to(contributor, "") == []
    assert not Reminder.objects.filter(recipient=contributor).exists()


@pytest.mark.django_db
def test_reviewers_are_sent_the_escalation_at_14_days_overdue_with_the_owners(run: Callable[..., str]) -> None:
    reviewer = _person(roles.REVIEWER)
    inactive = _person(roles.REVIEWER, is_active=False)
    owner = _person(first_name="Olive", last_name="Owner")
    [owned] = _owing(1)
    _own(owner, [owned])

    run(DUE + timedelta(days=13))
    assert _mails_to(reviewer) == []
    run(DUE + timedelta(days=14))
    [escalation] = _mails_to(reviewer)
    assert "14 days or more overdue" in escalation.subject
    assert f"{owned.reference}:" in escalation.body
    assert "Owner: Olive Owner" in escalation.body
    assert _kinds(reviewer) == {("escalation", QUARTER.label)}
    assert _mails_to(inactive, "") == []
    run(DUE + timedelta(days=15))
    assert len(_mails_to(reviewer)) == 1


@pytest.mark.django_db
def test_a_late_run_skips_nothing_and_words_the_most_urgent(run: Callable[..., str]) -> None:
    owner = _person()
    _own(owner, _owing(1))

    run(DUE + timedelta(days=9))  # the first run of the cycle, late
    [late] = _mails_to(owner)
    assert "overdue" in late.subject
    assert "due by" not in late.subject
    assert _kinds(owner) == {(kind, QUARTER.label) for kind in ("due_soon", "due_today", "overdue")}
    assert Message.objects.get(recipient=owner).reminders.count() == 3


@pytest.mark.django_db
def test_a_reminder_in_the_ledger_is_never_sent_again(run: Callable[..., str]) -> None:
    owner = _person()
    _own(owner, _owing(1))
    day = DUE

    first = run(day)
    second = run(day)
    run(day + timedelta(days=1))
    assert len(_mails_to(owner)) == 1
    assert "1 message(s) with 2 reminder(s) recorded" in first
    assert "0 message(s) with 0 reminder(s) recorded" in second
    assert Reminder.objects.filter(recipient=owner).count() == 2
    assert Message.objects.get(recipient=owner).status == MessageStatus.SENT


@pytest.mark.django_db
def test_preferences_never_daily_weekly_and_who_gets_nothing(run: Callable[..., str]) -> None:
    never = _person(frequency=ReminderFrequency.NONE)
    daily = _person(frequency=ReminderFrequency.DAILY)
    weekly = _person(frequency=ReminderFrequency.WEEKLY)
    inactive = _person()
    no_address = _person(email="")
    for person, commitments in zip([never, daily, weekly, inactive, no_address], _owing(5), strict=True):
        _own(person, [commitments])
    # An owner who has left since: still named on the commitment, no longer able to sign in.
    inactive.is_active = False
    inactive.save()

    tuesday = DUE - timedelta(days=1)  # 13 October 2026
    assert tuesday.weekday() == 1
    run(tuesday)
    assert [len(_mails_to(person, "")) for person in (never, daily, weekly, inactive, no_address)] == [0, 1, 0, 0, 0]
    assert Message.objects.get(recipient=daily).key == "daily:2026-10-13"
    assert not Reminder.objects.filter(recipient__in=[never, weekly, inactive, no_address]).exists()

    monday = DUE + timedelta(days=5)  # 19 October 2026: the weekly digest collects what is due
    run(monday)
    [digest] = _mails_to(weekly)
    assert Message.objects.get(recipient=weekly).key == "weekly:2026-W43"
    assert _kinds(weekly) == {("due_soon", QUARTER.label), ("due_today", QUARTER.label)}
    assert "due today" in digest.subject
    assert _mails_to(never, "") == []
    assert not Reminder.objects.filter(recipient=never).exists()


def _submitted(author: Any, commitment: Commitment, *, on: date, as_of: date) -> StatusUpdate:
    update = update_create(commitment=commitment, author=author, as_of=as_of, status="in_progress", narrative="Due.")
    update = update_submit(update=update, user=author)
    submitted_at = datetime.combine(on, datetime.min.time()).replace(hour=10, tzinfo=datetime.now().astimezone().tzinfo)
    StatusUpdate.objects.filter(pk=update.pk).update(submitted_at=submitted_at)
    return update


@pytest.mark.django_db
def test_submissions_waiting_more_than_five_working_days_go_to_reviewers_but_not_their_authors(
    run: Callable[..., str],
) -> None:
    reviewer = _person(roles.REVIEWER)
    author_reviewer = _person(roles.REVIEWER)
    long_waiting, recent = _owing(2)
    # Thursday 1 October: on Friday 9 October it has waited 6 working days; on Thursday 8 October, 5.
    _submitted(author_reviewer, long_waiting, on=date(2026, 10, 1), as_of=date(2026, 9, 30))
    _submitted(author_reviewer, recent, on=date(2026, 10, 5), as_of=date(2026, 9, 29))

    run(date(2026, 10, 8))
    assert _mails_to(reviewer, "waiting for your review") == []
    run(date(2026, 10, 9))
    [waiting] = _mails_to(reviewer, "waiting for your review")
    assert long_waiting.reference in waiting.body
    assert recent.reference not in waiting.body
    assert "6 working days waiting" in waiting.body
    assert _kinds(reviewer, "2026-10-09") == {("review_waiting", "2026-10-09")}
    assert _mails_to(author_reviewer, "waiting for your review") == []  # four eyes: not reminded of their own
    run(date(2026, 10, 9))
    assert len(_mails_to(reviewer, "waiting for your review")) == 1  # at most once a day
    run(date(2026, 10, 12))
    assert len(_mails_to(reviewer, "waiting for your review")) == 2  # again the next working day while it waits


@pytest.mark.django_db
def test_the_dry_run_prints_the_plan_and_writes_nothing(run: Callable[..., str]) -> None:
    owner = _person(username="olive")
    owned = _owing(2)
    _own(owner, owned)

    out = run(DUE, "--dry-run")
    assert "dry run" in out
    assert f"olive <{owner.email}> [daily:{DUE.isoformat()}]: " in out
    assert f"due_soon {QUARTER.label}, due_today {QUARTER.label}" in out
    assert f"due_today: {owned[0].reference}, {owned[1].reference}" in out
    assert "1 person(s) would be reminded." in out
    assert not Message.objects.exists()
    assert not Reminder.objects.exists()
    assert mail.outbox == []


@pytest.mark.django_db
def test_a_bad_date_is_refused_with_a_clear_message() -> None:
    with pytest.raises(CommandError, match="“2026-13-01” is not a date; write it as YYYY-MM-DD"):
        call_command("send_reminders", "--date", "2026-13-01")


@pytest.mark.django_db
def test_the_plan_takes_the_same_number_of_queries_for_more_people_and_commitments(eager: None) -> None:
    reviewer = _person(roles.REVIEWER)
    commitments = _owing(24)
    owners = [_person() for _ in range(12)]
    _submitted(reviewer, commitments[-1], on=date(2026, 10, 1), as_of=date(2026, 9, 30))

    def queries(people: int, *, dry_run: bool) -> int:
        Reminder.objects.all().delete()
        Message.objects.all().delete()
        owners_assign(None, Commitment.objects.filter(owner__isnull=False))
        for index, owner in enumerate(owners[:people]):
            _own(owner, commitments[2 * index : 2 * index + 2])
        with CaptureQueriesContext(connection) as captured:
            report = reminders_send(day=DUE + timedelta(days=14), dry_run=dry_run)
        assert len(report.digests) == people + 1  # and the reviewer's escalation
        assert report.messages == (0 if dry_run else people + 1)
        return len(captured)

    # The plan, then the plan with its writes (the deliveries, one task per message, follow the commit).
    assert queries(2, dry_run=True) == queries(12, dry_run=True)
    assert queries(2, dry_run=False) == queries(12, dry_run=False)


@pytest.mark.django_db
@pytest.mark.usefixtures("broker_down")
def test_a_broker_that_is_down_leaves_the_message_queued_for_the_sweep(django_capture_on_commit_callbacks: Any) -> None:
    owner = _person()
    _own(owner, _owing(1))
    with django_capture_on_commit_callbacks(execute=True):
        report = reminders_send(day=DUE)
    assert (report.messages, report.enqueued) == (1, 0)
    message = Message.objects.get(recipient=owner)
    assert message.status == MessageStatus.QUEUED
    assert mail.outbox == []
    Message.objects.filter(pk=message.pk).update(created_at=message.created_at - timedelta(minutes=10))
    assert send_queued_messages.run() == 1
    assert Message.objects.get(pk=message.pk).status == MessageStatus.SENT
    assert len(_mails_to(owner, "")) == 1
    assert send_queued_messages.run() == 0


# --- two runs at once (PostgreSQL) -----------------------------------------------------------------


@pytest.mark.skipif(
    settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql",
    reason="two concurrent transactions need PostgreSQL (SQLite serialises its writers)",
)
def test_two_runs_at_once_send_each_reminder_once(django_db_setup: None, django_db_blocker: Any, eager: None) -> None:
    """Two runs in threads, each with its own connection, on committed data (so not in a test transaction).

    Not a transactional test either: that would empty the seeded database at its end. What it writes is
    removed at the end instead.
    """
    with django_db_blocker.unblock():
        people = [_person() for _ in range(6)]
        reviewer = _person(roles.REVIEWER)
        everyone = [*people, reviewer]
        owned = _owing(12)
        try:
            for index, person in enumerate(people):
                _own(person, owned[2 * index : 2 * index + 2])
            start = threading.Barrier(2)
            reports: list[Any] = []
            errors: list[BaseException] = []

            def one_run() -> None:
                try:
                    start.wait(timeout=30)
                    reports.append(reminders_send(day=DUE + timedelta(days=14)))
                except BaseException as error:  # reported by the test
                    errors.append(error)
                finally:
                    connections.close_all()

            threads = [threading.Thread(target=one_run) for _ in range(2)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=120)
            assert errors == []
            assert len(reports) == 2
            # Each run planned everyone (it read the ledger before the other committed) or nobody (after): the
            # other's batch commits at once. People other tests left in the database may be planned as well.
            ids = {person.pk for person in everyone}
            planned = [{digest.recipient_id for digest in report.digests} & ids for report in reports]
            assert ids in planned
            assert all(plan in (ids, set()) for plan in planned)
            assert Message.objects.filter(recipient__in=everyone).count() == len(everyone)
            for person in everyone:
                assert len(_mails_to(person, "")) == 1
                assert Message.objects.filter(recipient=person).count() == 1
            assert Reminder.objects.filter(recipient__in=everyone).count() == 3 * len(people) + 1
        finally:
            Reminder.objects.filter(recipient__in=everyone).delete()
            Message.objects.filter(recipient__in=everyone).delete()
            owners_assign(None, owned)
            for person in everyone:
                person.delete()

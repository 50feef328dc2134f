"""The quarterly update cycle: the due day from England's working days, which commitments owe an update, done.

The calendar is checked against days worked out by hand from the published bank holidays (Easter, the
substitute days of a Christmas and New Year on a weekend), and through the ``tasks`` command that prints it.
"""

from __future__ import annotations

from datetime import date
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.test import override_settings

from commitments import roles
from commitments.models import Commitment
from commitments.periods import Quarter, update_due_on, working_days_after, working_days_between
from commitments.services import commitment_set_published, update_approve, update_create, update_submit
from metrics.tasks import recompute_pending
from metrics.update_cycle import Cycle, CycleState
from tests.helpers import owners_assign

# (quarter, the tenth working day after it ends), worked out by hand.
DUE_DAYS = [
    # No bank holiday in early October: 1, 2, 5-9, 12-14 October.
    ("2026-27 Q2", date(2026, 10, 14)),
    # New Year's Day 2027 is a Friday: 4-8, 11-15 January.
    ("2026-27 Q3", date(2027, 1, 15)),
    # Good Friday 3 and Easter Monday 6 April 2026: 1, 2, 7-10, 13-16 April.
    ("2025-26 Q4", date(2026, 4, 16)),
    # 1 January 2022 a Saturday: its substitute day is Monday 3 January; 4-7, 10-14, 17 January.
    ("2021-22 Q3", date(2022, 1, 17)),
    # No bank holiday in early July: 1, 4-8, 11-14 July.
    ("2022-23 Q1", date(2022, 7, 14)),
]


@pytest.mark.parametrize(("label", "due"), DUE_DAYS, ids=[label for label, _ in DUE_DAYS])
def test_a_quarters_update_is_due_on_the_tenth_working_day_in_england(label: str, due: date) -> None:
    assert update_due_on(Quarter.from_label(label)) == due


@override_settings(UPDATE_DUE_WORKING_DAYS=12)
def test_the_number_of_working_days_is_a_setting_and_skips_easter() -> None:
    # 2021-22 Q4 ends on 31 March 2022; the 10th working day is 14 April, before Good Friday (15 April) and
    # Easter Monday (18 April), so the 11th and 12th are 19 and 20 April.
    assert update_due_on(Quarter.from_label("2021-22 Q4")) == date(2022, 4, 20)


def test_working_days_skip_weekends_and_christmas_substitute_days() -> None:
    # 25 and 26 December 2021 fell on a weekend: Monday 27 and Tuesday 28 December were the bank holidays.
    assert working_days_after(date(2021, 12, 24), 1) == date(2021, 12, 29)
    assert working_days_between(date(2021, 12, 24), date(2021, 12, 29)) == 1


@pytest.mark.parametrize(
    ("today", "label", "due"),
    [
        (date(2026, 9, 30), "2026-27 Q1", date(2026, 7, 14)),  # the quarter's last day: the one before is asked for
        (date(2026, 10, 1), "2026-27 Q2", date(2026, 10, 14)),
        (date(2026, 12, 6), "2026-27 Q2", date(2026, 10, 14)),
        (date(2027, 1, 1), "2026-27 Q3", date(2027, 1, 15)),
    ],
)
def test_the_cycle_under_way_is_the_last_completed_quarters(today: date, label: str, due: date) -> None:
    cycle = Cycle.on(today)
    assert (cycle.quarter.label, cycle.due_on) == (label, due)


def test_an_update_is_due_until_the_due_day_then_overdue_and_done_once_approved() -> None:
    cycle = Cycle.for_quarter(Quarter.from_label("2026-27 Q2"))
    assert cycle.state(done=False, today=date(2026, 10, 14)) == CycleState.DUE
    assert cycle.state(done=False, today=date(2026, 10, 15)) == CycleState.OVERDUE
    assert cycle.state(done=True, today=date(2026, 12, 6)) == CycleState.DONE
    assert cycle.days_overdue(date(2026, 10, 14)) == 0
    assert cycle.days_overdue(date(2026, 10, 21)) == 7


def _approve(commitment: Commitment, editor: Any, reviewer: Any, *, as_of: date, status: str) -> None:
    update = update_create(
        commitment=commitment, author=editor, as_of=as_of, status=status, narrative="Reported for the test."
    )
    update_submit(update=update, user=editor)
    update_approve(update=update, reviewer=reviewer)


@pytest.mark.django_db
def test_who_owes_the_quarters_update_and_who_has_done_it(user_with_role: Any) -> None:
    editor, reviewer = user_with_role(roles.EDITOR), user_with_role(roles.REVIEWER)
    quarter = Quarter.from_label("2025-26 Q1")  # 1 April to 30 June 2025
    cycle = Cycle.for_quarter(quarter)
    owing_before = set(cycle.owing().values_list("reference", flat=True))
    published = list(Commitment.objects.filter(reference__in=owing_before).order_by("reference")[:6])
    assert len(published) == 6, "the seed has published commitments owing an update"
    delivered_before, withdrawn_before, delivered_in, updated_in, updated_after, to_withdraw = published
    _approve(delivered_before, editor, reviewer, as_of=date(2025, 3, 31), status="delivered")
    _approve(withdrawn_before, editor, reviewer, as_of=date(2025, 3, 1), status="not_being_pursued")
    _approve(delivered_in, editor, reviewer, as_of=date(2025, 5, 1), status="delivered")
    _approve(updated_in, editor, reviewer, as_of=date(2025, 6, 30), status="in_progress")
    _approve(updated_after, editor, reviewer, as_of=date(2025, 7, 1), status="in_progress")
    unpublished = commitment_set_published(commitment=to_withdraw, user=reviewer, published=False)
    # What the figures read (the delivery spans) follows the approvals once their markers are processed, as a
    # worker does after each commit.
    recompute_pending()

    owing = dict(cycle.owing().values_list("reference", "update_done"))  # type: ignore[misc]  # an annotation
    # Delivered or withdrawn before the quarter began: nothing is asked for. Unpublished: not counted.
    assert delivered_before.reference not in owing
    assert withdrawn_before.reference not in owing
    assert unpublished.reference not in owing
    # Delivered in the quarter: it was due, and the update that delivered it is the quarter's.
    assert owing[delivered_in.reference] is True
    assert owing[updated_in.reference] is True
    # An update as of a day after the quarter is the next quarter's.
    assert owing[updated_after.reference] is False
    assert updated_after.reference in set(cycle.outstanding().values_list("reference", flat=True))
    assert set(owing) == owing_before - {delivered_before.reference, withdrawn_before.reference, unpublished.reference}


@pytest.mark.django_db
def test_the_tasks_command_prints_the_due_day_of_the_cycle(user_with_role: Any) -> None:
    editor = user_with_role(roles.EDITOR)
    owners_assign(editor, list(Cycle.for_quarter(Quarter.from_label("2025-26 Q4")).outstanding()[:2]))
    out = StringIO()
    call_command("tasks", editor.username, "--date", "2026-04-20", stdout=out)
    text = out.getvalue()
    assert "Updates for 2025-26 Q4 are due by 16 April 2026." in text
    assert "4 days overdue" in text

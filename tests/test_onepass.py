"""The one-pass rebuild (``metrics.onepass``) gives every quarter the figures ``figures_for`` gives it.

Field by field, for every quarter, scope and population, on the seeded data; after approvals (back-dated,
ties on the as-of date, left unapproved) and publication changes; and for the quarter in progress, which
is described as of today.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine

from commitments import roles
from commitments.models import Commitment
from commitments.periods import Quarter
from metrics.models import Basis, DeliverySpan, QuarterMetric
from metrics.onepass import QuarterDays, figures_by_quarter
from metrics.services import FIRST_QUARTER, figures_for, metrics_recompute, quarters_until, spans_rebuild
from tests.helpers import milestone_write
from tests.test_metrics import SAMPLE, _apply, _set_published

pytestmark = pytest.mark.django_db

SPANS = ("commitment_id", "update_id", "starts", "ends", "status", "confidence", "progress", "spent")


def _days(today: date) -> list[QuarterDays]:
    return [
        QuarterDays(quarter, quarter.figures_day(today), quarter.previous().end if quarter > FIRST_QUARTER else None)
        for quarter in quarters_until(today)
    ]


def _by_scope(figures):
    by_scope = {(item.population, item.scope_type, item.scope_key): item.values() for item in figures}
    assert len(by_scope) == len(figures), "one row per population and scope"
    return by_scope


def _assert_one_pass_equals_the_engine(today: date) -> int:
    quarters = _days(today)
    one_pass = dict(figures_by_quarter(quarters))
    assert list(one_pass) == [item.quarter for item in quarters]
    rows = 0
    for item in quarters:
        expected = _by_scope(figures_for(item.quarter, today=today))
        found = _by_scope(one_pass[item.quarter])
        assert found.keys() == expected.keys(), item.quarter.label
        for scope, values in expected.items():
            assert found[scope] == values, (item.quarter.label, scope)
        rows += len(expected)
    return rows


def test_every_quarter_equals_the_engine_on_the_seeded_data():
    today = date.today()
    assert _assert_one_pass_equals_the_engine(today) > 0


# Approvals of every sort: back-dated, a correction on the same day, one left submitted, one before any quarter.
HISTORY = [
    (SAMPLE[0], date(2019, 6, 30), "delivered", "green", None, True),
    (SAMPLE[0], date(2019, 6, 30), "in_progress", "amber", 40, True),  # a correction the same day governs
    (SAMPLE[1], date(2018, 1, 15), "in_progress", "red", None, True),
    (SAMPLE[1], date(2019, 10, 1), "not_being_pursued", "", None, True),
    (SAMPLE[2], date(2020, 2, 29), "in_progress", "amber_green", 70, False),  # left submitted
    (SAMPLE[2], date(2017, 9, 1), "in_progress", "", 10, True),
]


# Milestones due and done on and about quarter ends: (commitment, due on, done on).
MILESTONES = [
    (SAMPLE[0], date(2019, 5, 1), None),
    (SAMPLE[0], date(2019, 6, 30), date(2019, 9, 30)),  # due on a quarter's end, done on the next one's
    (SAMPLE[1], date(2018, 2, 1), date(2019, 7, 1)),
    (SAMPLE[2], date(2019, 8, 1), date(2019, 7, 1)),  # done before it was due: never overdue
    (SAMPLE[3], date(2019, 12, 30), date(2019, 12, 31)),  # done the day after, a quarter's end
    (SAMPLE[5], date(2017, 1, 1), None),
]


def add_milestones(user) -> None:
    """Give the sample commitments ``MILESTONES`` through the milestone services, as ``user``."""
    for reference, due_on, done_on in MILESTONES:
        commitment = Commitment.objects.get(reference=reference)
        milestone_write(commitment=commitment, due_on=due_on, done_on=done_on, user=user)


def test_every_quarter_equals_the_engine_after_approvals_and_publication_changes(user_with_role):
    editor, reviewer = user_with_role(roles.EDITOR), user_with_role(roles.REVIEWER)
    _apply(HISTORY, editor, reviewer)
    _set_published([SAMPLE[3]], False, reviewer)
    add_milestones(editor)
    spans_rebuild()
    _assert_one_pass_equals_the_engine(date.today())
    # The figures compared are not all zeros: milestones overdue, and the quarters' updates due and done.
    tracker = {
        quarter.label: next(item for item in figures if item.scope_type == "tracker" and item.population == "all")
        for quarter, figures in figures_by_quarter(_days(date.today()))
    }
    assert tracker["2019-20 Q1"].milestones_overdue == 3  # due 1 May, and since February 2018; 30 June is not past
    assert tracker["2019-20 Q2"].milestones_overdue == 2  # the one done on 30 September is not overdue that day
    assert tracker["2019-20 Q3"].milestones_overdue == 2  # done on 31 December, the day after it was due
    assert tracker["2019-20 Q1"].updates_due > tracker["2019-20 Q1"].updates_done > 0  # approved as of 30 June
    # Withdrawn as of 1 October: no update is due from it for the quarter after.
    assert tracker["2019-20 Q4"].updates_due == tracker["2019-20 Q3"].updates_due - 1


def test_the_quarter_in_progress_is_computed_as_of_today():
    with time_machine.travel(datetime(2026, 11, 18, 10, 0, tzinfo=ZoneInfo("Europe/London")), tick=False):
        today = date(2026, 11, 18)
        assert Quarter.containing(today).figures_day(today) == today
        _assert_one_pass_equals_the_engine(today)


def test_the_full_rebuild_stores_the_engines_figures_for_every_quarter():
    metrics_recompute()
    today = date.today()
    for quarter in quarters_until(today):
        stored = {
            (row.population, row.scope_type, row.scope_key): row
            for row in QuarterMetric.objects.filter(
                quarter__year=quarter.year, quarter__number=quarter.number, basis=Basis.LIVE
            )
        }
        expected = _by_scope(figures_for(quarter, today=today))
        assert stored.keys() == expected.keys(), quarter.label
        for scope, values in expected.items():
            assert {name: getattr(stored[scope], name) for name in values} == values, (quarter.label, scope)
    assert Commitment.objects.exists()


def test_the_full_rebuild_corrects_only_the_spans_found_wrong(user_with_role):
    editor, reviewer = user_with_role(roles.EDITOR), user_with_role(roles.REVIEWER)
    _apply(HISTORY, editor, reviewer)
    spans_rebuild()
    assert spans_rebuild() == 0, "spans that are right are left alone"
    right = sorted(DeliverySpan.objects.values_list(*SPANS))
    assert right
    first, second = DeliverySpan.objects.order_by("pk")[:2]
    DeliverySpan.objects.filter(pk=first.pk).update(status="delivered", progress=None)  # drifted
    DeliverySpan.objects.filter(pk=second.pk).delete()  # lost
    DeliverySpan.objects.create(  # a span no update gives
        commitment_id=first.commitment_id, update_id=first.update_id + 10**6, starts=date(2017, 1, 1), status="x"
    )
    assert spans_rebuild() == 4, "the drifted span deleted and written again, the lost one written, the stray deleted"
    assert sorted(DeliverySpan.objects.values_list(*SPANS)) == right
    assert spans_rebuild() == 0

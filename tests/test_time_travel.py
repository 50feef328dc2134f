"""Time travel from the stored figures (``metrics.time_travel``) equals the engine's figures of the day.

Field by field, for every scope and population, on days across the quarters (first and last days,
days an update or a target date falls on, and the days either side), on the seeded data after approvals
(back-dated, ties on the as-of date, left unapproved) and withdrawals; and it steps aside, leaving the
engine to compute the day, where the stored figures cannot serve.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from commitments import roles
from commitments.models import Commitment, Document
from commitments.periods import Quarter
from metrics.engine import compute_figures
from metrics.models import RecomputeMarker
from metrics.services import FIRST_QUARTER, markers_process, metrics_as_of, metrics_recompute
from metrics.time_travel import figures_from_stored
from tests.test_metrics import SAMPLE, _apply, _set_published
from tests.test_onepass import HISTORY, MILESTONES, add_milestones

pytestmark = pytest.mark.django_db

TODAY = date.today()


def _by_scope(figures):
    by_scope = {(item.population, item.scope_type, item.scope_key): item.values() for item in figures}
    assert len(by_scope) == len(figures), "one row per population and scope"
    return by_scope


def _engine(day: date):
    quarter = Quarter.containing(day)
    previous_end = quarter.previous().end if quarter > FIRST_QUARTER else None
    return compute_figures(day=day, period_start=quarter.start, previous_end=previous_end)


def _assert_equal_to_the_engine(day: date) -> None:
    quarter = Quarter.containing(day)
    expected = _by_scope(_engine(day))
    assert _by_scope(metrics_as_of(day=day)) == expected
    travelled = figures_from_stored(day=day, quarter=quarter)
    published_between = Document.objects.filter(published_on__gt=quarter.previous().end, published_on__lte=day)
    if day != quarter.end and published_between.exists():  # a quarter's last day reads its own stored figures
        assert travelled is None, f"a deal published since the quarter before's end: {day} is computed in full"
        return
    assert travelled is not None, f"the stored figures serve {day}"
    found = _by_scope(travelled)
    assert found.keys() == expected.keys(), day
    for scope, values in expected.items():
        assert found[scope] == values, (day, scope)


def _days() -> list[date]:
    """Days in quarters with changes: the first, second and last of each, and the days either side of changes."""
    days: set[date] = set()
    quarter = Quarter.containing(date(2018, 1, 1))
    while quarter.end < date(2021, 7, 1):
        days |= {quarter.start, quarter.start + timedelta(days=1), quarter.end - timedelta(days=1), quarter.end}
        quarter = quarter.next()
    for event in (date(2018, 1, 15), date(2019, 6, 30), date(2019, 10, 1), date(2020, 2, 29)):
        days |= {event - timedelta(days=1), event, event + timedelta(days=1)}
    # Target dates passing: overdue moves with no update.
    targets = Commitment.objects.filter(target_date__range=(date(2018, 1, 2), date(2021, 6, 29)))
    passing = {target for target in targets.values_list("target_date", flat=True) if target is not None}
    for target in sorted(passing)[:6]:
        days |= {target, target + timedelta(days=1)}
    # Milestones falling due and done: milestones overdue move with no update.
    for _, due_on, done_on in MILESTONES:
        for moment in (due_on, done_on):
            if moment is not None and date(2018, 1, 2) <= moment:
                days |= {moment - timedelta(days=1), moment, moment + timedelta(days=1)}
    return sorted(days)


@pytest.mark.slow
def test_every_day_equals_the_engine_after_approvals_and_withdrawals(user_with_role):
    editor, reviewer = user_with_role(roles.EDITOR), user_with_role(roles.REVIEWER)
    _apply([*HISTORY, (SAMPLE[4], date(2020, 2, 29), "delivered", "", None, True)], editor, reviewer)
    _set_published([SAMPLE[3]], False, reviewer)
    add_milestones(editor)
    metrics_recompute()
    assert not RecomputeMarker.objects.exists()
    for day in _days():
        _assert_equal_to_the_engine(day)


def test_a_day_mid_quarter_reads_the_changes_only_in_a_fixed_number_of_queries(user_with_role):
    editor, reviewer = user_with_role(roles.EDITOR), user_with_role(roles.REVIEWER)
    _apply([(SAMPLE[0], date(2019, 8, 14), "in_progress", "amber", 30, True)], editor, reviewer)
    metrics_recompute()
    day = date(2019, 8, 20)
    _assert_equal_to_the_engine(day)
    with CaptureQueriesContext(connection) as few:
        figures_from_stored(day=day, quarter=Quarter.containing(day))
    for reference in SAMPLE[1:5]:
        _apply([(reference, date(2019, 8, 1), "delivered", "green", None, True)], editor, reviewer)
    metrics_recompute()
    _assert_equal_to_the_engine(day)
    with CaptureQueriesContext(connection) as more:
        figures_from_stored(day=day, quarter=Quarter.containing(day))
    assert len(more) == len(few)


def test_the_engine_computes_the_day_where_the_stored_figures_cannot_serve(user_with_role):
    editor, reviewer = user_with_role(roles.EDITOR), user_with_role(roles.REVIEWER)
    day = date(2019, 8, 20)
    quarter = Quarter.containing(day)
    # Nothing stored yet.
    assert figures_from_stored(day=day, quarter=quarter) is None
    metrics_recompute()
    assert figures_from_stored(day=day, quarter=quarter) is not None
    # A marker still pending: the stored rows may lag the write it records.
    RecomputeMarker.objects.create(commitment=Commitment.objects.get(reference=SAMPLE[0]), from_date=day)
    assert figures_from_stored(day=day, quarter=quarter) is None
    assert _by_scope(metrics_as_of(day=day)) == _by_scope(_engine(day))
    RecomputeMarker.objects.all().delete()
    # A deal published in between: other commitments count on the day than at the quarter before's end.
    deal = Document.objects.filter(commitments__isnull=False).distinct().order_by("published_on").last()
    assert deal is not None
    published_on = deal.published_on
    Document.objects.filter(pk=deal.pk).update(published_on=date(2019, 8, 1))
    assert figures_from_stored(day=day, quarter=quarter) is None
    Document.objects.filter(pk=deal.pk).update(published_on=published_on)
    # The first quarter has no quarter before it; the engine computes it.
    assert _by_scope(metrics_as_of(day=FIRST_QUARTER.end - timedelta(days=3))) == _by_scope(
        _engine(FIRST_QUARTER.end - timedelta(days=3))
    )
    _apply([(SAMPLE[0], date(2019, 8, 14), "in_progress", "amber", 30, True)], editor, reviewer)
    assert figures_from_stored(day=day, quarter=quarter) is None  # until the approval's marker is processed
    markers_process()
    _assert_equal_to_the_engine(day)

"""Time travel from the stored figures: a day's figures as the quarter before's plus what changed since.

The figures as of a day in a quarter describe each commitment's state on that day, with freshness counted
from the quarter's first day and movement measured from the quarter before's end. That quarter's live
figures are stored, and every write keeps them current (``metrics.services``), so the figures of the day
are theirs moved by the few commitments whose figures can differ between the two days: those a span
starts for in between (``rules.state_may_change``), those whose target date passes in between
(``rules.overdue_may_change``) and those with a milestone falling due or done in between
(``rules.milestone_overdue_may_change``). The engine sums what those commitments add to each scope on the day and
what they added at the quarter before's end (``engine.changes_between``), so no rule is restated:

- a level (a count by status or rating, progress, spending, overdue, milestones overdue) is the stored one
  plus the first sum minus the second;
- a figure counted over the period (``PERIOD_FIELDS``: stale, movement, updates done) is theirs alone, since
  every other commitment keeps the state it had, with no movement and no update in the quarter (stale);
- the updates due are read from the stored levels by status, the state at the quarter before's end, with
  ``rules.is_update_due``;
- money and the number of commitments do not move, since the same commitments count on both days.

Only those commitments' spans are read, so the cost follows the changes in one quarter, not every
commitment's history. Where the stored figures cannot serve, ``figures_from_stored`` says so (None) and
the caller computes the day in full: the first quarter (nothing before it), markers still pending (the
stored rows may lag a write), the quarter before not computed as of its end, or a deal published in
between (other commitments count). ``tests/test_time_travel.py`` checks the two agree field by field.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from commitments.delivery import DeliveryStatus
from commitments.models import Commitment, Document
from commitments.periods import Quarter
from metrics import rules
from metrics.engine import FIGURE_FIELDS, PERIOD_FIELDS, STORED_MOVEMENTS, Figures, changes_between
from metrics.models import Basis, QuarterMetric, RecomputeMarker, ReportingQuarter

_LEVEL_FIELDS = [name for name in FIGURE_FIELDS if name not in PERIOD_FIELDS]


def figures_from_stored(*, day: date, quarter: Quarter) -> list[Figures] | None:
    """The figures as of ``day`` (in ``quarter``, not the first) from the stored quarter before, or None.

    None where the stored figures cannot serve (see the module's docstring): compute the day in full.
    """
    if RecomputeMarker.objects.exists():  # the stored rows may lag a write
        return None
    if day == quarter.end:  # the quarter itself, as stored
        return _stored(quarter, day)
    previous = quarter.previous()
    stored = _stored(previous, day)
    if stored is None:
        return None
    changing = Commitment.objects.filter(
        rules.state_may_change(after=previous.end, until=day)
        | rules.overdue_may_change(after=previous.end, until=day)
        | rules.milestone_overdue_may_change(after=previous.end, until=day)
    )
    now, then = changes_between(day=day, period_start=quarter.start, previous_end=previous.end, among=changing)
    return _moved(stored, now=now, then=then)


def _stored(quarter: Quarter, day: date) -> list[Figures] | None:
    """The stored live figures of ``quarter`` as of its end, if so stored and no deal was published since by ``day``."""
    reporting = ReportingQuarter.objects.filter(year=quarter.year, number=quarter.number).first()
    if reporting is None or reporting.live_as_of != quarter.end:
        return None
    if Document.objects.filter(published_on__gt=quarter.end, published_on__lte=day).exists():
        return None
    rows = QuarterMetric.objects.filter(quarter=reporting, basis=Basis.LIVE).values(
        "scope_type", "scope_key", "scope_label", "population", *FIGURE_FIELDS
    )
    stored = [Figures(**row) for row in rows]
    return stored or None


def _moved(stored: list[Figures], *, now: list[Figures], then: list[Figures]) -> list[Figures]:
    """``stored`` with the levels moved by ``now`` minus ``then`` and the period's figures from ``now``."""
    now_by, then_by = _by_scope(now), _by_scope(then)
    for figures in stored:
        key = (figures.population, figures.scope_type, figures.scope_key)
        after, before = now_by.get(key), then_by.get(key)
        # The quarter's update is due from the commitments whose state at the quarter before's end (the stored
        # levels by status, read before they move) makes it due; only those changing can have had it approved.
        figures.updates_due = sum(
            getattr(figures, status) for status in DeliveryStatus.values if rules.is_update_due(status_before=status)
        )
        for name in _LEVEL_FIELDS:
            moved = (getattr(after, name) if after else 0) - (getattr(before, name) if before else 0)
            if moved:
                setattr(figures, name, getattr(figures, name) + moved)
        # Every commitment but those changing has no update in the quarter: stale, with no movement.
        fresh = (after.commitments - after.stale) if after else 0
        figures.stale = figures.commitments - fresh
        for name in STORED_MOVEMENTS:
            setattr(figures, name, getattr(after, name) if after else 0)
        figures.updates_done = after.updates_done if after else 0
    return stored


def _by_scope(figures: list[Figures]) -> dict[tuple[str, str, str], Any]:
    return {(item.population, item.scope_type, item.scope_key): item for item in figures}

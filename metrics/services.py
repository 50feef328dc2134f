"""Writes of the metrics app: recomputing figures, locking quarters, and the recompute outbox.

Recomputation is idempotent: it upserts the rows of the quarters and scopes it covers, so running it
twice, or in two workers at once, leaves identical rows. Concurrent runs are serialised by a
transaction-scoped advisory lock on PostgreSQL; on SQLite every writing transaction already takes the
database's write lock when it begins (``transaction_mode`` IMMEDIATE in the settings).
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.db import connection, transaction
from django.db.models import Min
from django.utils import timezone

from commitments.periods import Quarter
from metrics.engine import FIGURE_FIELDS, Figures, compute_figures
from metrics.models import Basis, QuarterMetric, RecomputeMarker, ReportingQuarter

logger = logging.getLogger(__name__)

# The strategy was published in August 2017: figures start with that quarter.
FIRST_QUARTER = Quarter.containing(date(2017, 8, 1))
_LOCK_KEY = 0x4C534953  # "LSIS"


class QuarterNotOverError(ValueError):
    """A quarter cannot be signed off before its last day has passed."""


@dataclass(frozen=True)
class RecomputeReport:
    """What a recompute covered."""

    quarters: int
    rows: int


def _exclusive_recompute_lock() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_LOCK_KEY])


def quarters_until(day: date) -> list[Quarter]:
    """Every quarter from the first to the one containing ``day``."""
    quarters, quarter, last = [], FIRST_QUARTER, Quarter.containing(day)
    while quarter <= last:
        quarters.append(quarter)
        quarter = quarter.next()
    return quarters


def reporting_quarters_ensure(*, today: date | None = None) -> dict[Quarter, ReportingQuarter]:
    """Make sure every quarter up to today has its row; return them by quarter."""
    wanted = quarters_until(today or timezone.localdate())
    existing = {row.quarter: row for row in ReportingQuarter.objects.all()}
    for quarter in wanted:
        if quarter not in existing:
            existing[quarter] = ReportingQuarter.objects.create(year=quarter.year, number=quarter.number)
    return existing


def figures_for(quarter: Quarter, *, commitment_ids: Collection[int] | None = None) -> list[Figures]:
    """The figures of a quarter as of its last day, computed now."""
    previous_end = quarter.previous().end if quarter > FIRST_QUARTER else None
    return compute_figures(
        day=quarter.end, period_start=quarter.start, previous_end=previous_end, commitment_ids=commitment_ids
    )


def metrics_as_of(*, day: date) -> list[Figures]:
    """Time travel: the figures as of any day, computed without storing anything.

    Freshness counts updates since the start of the day's quarter; movement is measured from the end of
    the quarter before it. For a quarter's last day this equals the quarter's recomputed figures.
    """
    quarter = Quarter.containing(day)
    previous_end = quarter.previous().end if quarter > FIRST_QUARTER else None
    return compute_figures(day=day, period_start=quarter.start, previous_end=previous_end)


def _write(reporting_quarter: ReportingQuarter, basis: str, figures: list[Figures], *, complete: bool) -> int:
    now = timezone.now()
    rows = [QuarterMetric(quarter=reporting_quarter, basis=basis, computed_at=now, **item.values()) for item in figures]
    # Upsert: one statement whatever the number of scopes; QuarterMetric holds derived figures, not audited data.
    QuarterMetric.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["quarter", "basis", "scope_type", "scope_key"],
        update_fields=["scope_label", *FIGURE_FIELDS, "computed_at"],
        batch_size=500,
    )
    if complete:
        current = {(item.scope_type, item.scope_key) for item in figures}
        gone = [
            pk
            for pk, scope_type, scope_key in QuarterMetric.objects.filter(
                quarter=reporting_quarter, basis=basis
            ).values_list("pk", "scope_type", "scope_key")
            if (scope_type, scope_key) not in current
        ]
        QuarterMetric.objects.filter(pk__in=gone).delete()
    return len(rows)


@transaction.atomic
def metrics_recompute(
    *, quarters: Iterable[Quarter] | None = None, commitment_ids: Collection[int] | None = None
) -> RecomputeReport:
    """Recompute and store the live figures of ``quarters`` (all, if None).

    With ``commitment_ids``, only the scopes those commitments belong to are recomputed. Figures of a
    locked quarter keep their signed-off copy; the live rows then show what the figures would be now.
    """
    _exclusive_recompute_lock()
    reporting = reporting_quarters_ensure()
    selected = sorted(set(quarters) & set(reporting)) if quarters is not None else sorted(reporting)
    written = 0
    for quarter in selected:
        figures = figures_for(quarter, commitment_ids=commitment_ids)
        written += _write(reporting[quarter], Basis.LIVE, figures, complete=commitment_ids is None)
    return RecomputeReport(quarters=len(selected), rows=written)


@transaction.atomic
def quarter_lock(*, quarter: Quarter, user: Any, today: date | None = None) -> ReportingQuarter:
    """Sign a quarter off: its figures, recomputed now, are frozen as the signed-off copy."""
    if quarter.end >= (today or timezone.localdate()):
        raise QuarterNotOverError(f"{quarter.label} ends on {quarter.end:%d %B %Y}; it can be signed off after that.")
    _exclusive_recompute_lock()
    reporting = reporting_quarters_ensure(today=today)[quarter]
    if reporting.is_locked:
        return reporting
    figures = figures_for(quarter)
    _write(reporting, Basis.LIVE, figures, complete=True)
    _write(reporting, Basis.SIGNED_OFF, figures, complete=True)
    reporting.locked_at = timezone.now()
    reporting.locked_by = user
    reporting.save(update_fields=["locked_at", "locked_by"])
    return reporting


def metrics_mark_stale(*, commitment_id: int, from_date: date) -> None:
    """Record, in the caller's transaction, that a commitment's figures changed from a date on.

    After the transaction commits, a task is asked to recompute; if the broker cannot be reached the
    marker waits for the periodic sweep.
    """
    RecomputeMarker.objects.create(commitment_id=commitment_id, from_date=from_date)
    transaction.on_commit(_enqueue_recompute)


def _enqueue_recompute() -> None:
    from metrics.tasks import recompute_pending

    try:
        recompute_pending.delay()
    except Exception:  # the broker is unreachable: the sweep will pick the marker up
        logger.warning("Could not enqueue a metrics recompute; the periodic sweep will do it.", exc_info=True)


def markers_pending() -> bool:
    """Whether some figures are waiting to be recomputed ("updating")."""
    return RecomputeMarker.objects.exists()


@transaction.atomic
def markers_process(*, today: date | None = None) -> int:
    """Recompute what the pending markers name and delete them, in one transaction; return how many.

    Runs take the recompute lock first, so they queue rather than skip each other's markers: a task
    redelivered after its worker was killed waits for the dead session to be rolled back, then finds the
    markers again and recomputes the same rows to the same values.
    """
    _exclusive_recompute_lock()
    claimed = list(RecomputeMarker.objects.select_for_update().order_by("pk")[:1000])
    if not claimed:
        return 0
    earliest = min(marker.from_date for marker in claimed)
    commitment_ids = {marker.commitment_id for marker in claimed}
    quarters = [q for q in quarters_until(today or timezone.localdate()) if q.end >= earliest]
    metrics_recompute(quarters=quarters, commitment_ids=commitment_ids)
    RecomputeMarker.objects.filter(pk__in=[marker.pk for marker in claimed]).delete()
    return len(claimed)


def oldest_pending_marker() -> Any:
    """When the oldest pending marker was written, or None."""
    return RecomputeMarker.objects.aggregate(oldest=Min("created_at"))["oldest"]

"""Writes of the metrics app: recomputing figures, locking quarters, and the recompute outbox.

Recomputation is idempotent: it upserts the rows of the quarters and scopes it covers, so running it
twice, or in two workers at once, leaves identical rows. Concurrent runs are serialised by a
transaction-scoped advisory lock on PostgreSQL; on SQLite every writing transaction already takes the
database's write lock when it begins (``transaction_mode`` IMMEDIATE in the settings).
"""

from __future__ import annotations

import itertools
import logging
import operator
from collections import Counter, defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import date
from functools import reduce
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import connection, transaction
from django.db.models import Min, Q
from django.utils import timezone

from commitments.models import Commitment, Document, Milestone
from commitments.periods import Quarter
from lsis.celery import enqueue_within_timeout
from lsis.core.changes import data_changed
from metrics import rules
from metrics.engine import (
    FIGURE_FIELDS,
    MONEY_FIELDS,
    TRACKER_KEY,
    Figures,
    MoneyContribution,
    Span,
    compute_figures,
    contribution,
    money_contributions,
    reached_scopes,
    scope_contributions,
    scope_keys,
)
from metrics.feed_kinds import figures_changed
from metrics.models import Basis, DeliverySpan, QuarterMetric, RecomputeMarker, ReportingQuarter, ScopeType
from metrics.onepass import QuarterDays, figures_by_quarter
from metrics.row_adjustments import live_rows_add
from metrics.rules import Population, commitment_kind, counts, in_population
from metrics.spans import spans_correct, spans_rewrite
from metrics.time_travel import figures_from_stored

logger = logging.getLogger(__name__)

# The strategy was published in August 2017: figures start with that quarter.
FIRST_QUARTER = Quarter.containing(date(2017, 8, 1))
_LOCK_KEY = 0x4C534953  # "LSIS"


LOCK_PERMISSION = "metrics.lock_reportingquarter"


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


def spans_rebuild(*, commitment_ids: Collection[int] | None = None) -> int:
    """Rewrite the delivery spans of ``commitment_ids`` (all, if None) from their approved updates.

    For some commitments their spans are written again; for all (the nightly rebuild), only the spans found
    wrong are corrected (``metrics.spans``). The workflow keeps the spans current through the outbox; code
    that writes approved updates directly (seeding, synthetic data) calls this afterwards. Returns the number
    of spans written or corrected.
    """
    if commitment_ids is not None:
        return spans_rewrite(commitment_ids)
    return spans_correct()


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


def figures_for(
    quarter: Quarter, *, commitment_ids: Collection[int] | None = None, today: date | None = None
) -> list[Figures]:
    """The figures of a quarter as of its last day, or as of today while it is in progress, computed now.

    The day is ``Quarter.figures_day``: the quarter in progress is never described as of a day to come.
    """
    previous_end = quarter.previous().end if quarter > FIRST_QUARTER else None
    return compute_figures(
        day=quarter.figures_day(today),
        period_start=quarter.start,
        previous_end=previous_end,
        commitment_ids=commitment_ids,
    )


def metrics_as_of(*, day: date) -> list[Figures]:
    """Time travel: the figures as of any day, computed without storing anything.

    Freshness counts updates since the start of the day's quarter; movement is measured from the end of
    the quarter before it. For a quarter's last day this equals the quarter's recomputed figures.
    """
    quarter = Quarter.containing(day)
    if quarter > FIRST_QUARTER:
        # From the stored quarter before, moved by the commitments that changed since, where it can serve.
        stored = figures_from_stored(day=day, quarter=quarter)
        if stored is not None:
            return stored
    previous_end = quarter.previous().end if quarter > FIRST_QUARTER else None
    return compute_figures(day=day, period_start=quarter.start, previous_end=previous_end)


def _write(
    reporting_quarter: ReportingQuarter,
    basis: str,
    figures: list[Figures],
    *,
    complete: bool,
    scopes: Collection[tuple[str, str]] = (),
    day: date | None = None,
) -> int:
    """Store ``figures`` as the quarter's rows of ``basis``; a complete set of live rows records its ``day``.

    Only rows whose figures differ from those stored are written (``computed_at`` is when a row's figures were
    last written): the nightly rebuild, which mostly finds the figures as the workflow left them, writes little.
    """
    stored_pks: dict[tuple[str, str, str], int] = {}
    stored: dict[tuple[str, str, str], dict[str, Any]] = {}
    for row in QuarterMetric.objects.filter(quarter=reporting_quarter, basis=basis).values(
        "pk", "population", "scope_type", "scope_key", "scope_label", *FIGURE_FIELDS
    ):
        key = (row.pop("population"), row.pop("scope_type"), row.pop("scope_key"))
        stored_pks[key], stored[key] = row.pop("pk"), row
    now = timezone.now()
    rows = [
        QuarterMetric(quarter=reporting_quarter, basis=basis, computed_at=now, **item.values())
        for item in figures
        if stored.get((item.population, item.scope_type, item.scope_key)) != _stored_values(item)
    ]
    # Upsert: one statement whatever the number of scopes; QuarterMetric holds derived figures, not audited data.
    QuarterMetric.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["quarter", "basis", "population", "scope_type", "scope_key"],
        update_fields=["scope_label", *FIGURE_FIELDS, "computed_at"],
        batch_size=500,
    )
    current = {(item.population, item.scope_type, item.scope_key) for item in figures}
    if complete:
        gone = [stored_pks[key] for key in stored.keys() - current]
        if gone:
            QuarterMetric.objects.filter(pk__in=gone).delete()
        if basis == Basis.LIVE and day is not None and reporting_quarter.live_as_of != day:
            reporting_quarter.live_as_of = day
            reporting_quarter.save(update_fields=["live_as_of"])
    else:
        # The figures are complete for ``scopes``, in both populations: one left with no commitment that counts
        # has no row, as a full recompute would leave it (a withdrawal or a change of kind can empty a scope).
        emptied = [
            Q(population=population, scope_type=scope_type, scope_key=key)
            for population in Population.values
            for scope_type, key in scopes
            if (population, scope_type, key) not in current
        ]
        if emptied:
            QuarterMetric.objects.filter(quarter=reporting_quarter, basis=basis).filter(
                reduce(operator.or_, emptied)
            ).delete()
    # Written in bulk, with no signals: the change feed compares the quarter's figures of this basis.
    figures_changed(year=reporting_quarter.year, number=reporting_quarter.number, basis=basis)
    return len(rows)


def _stored_values(figures: Figures) -> dict[str, Any]:
    """``figures`` as ``_write`` reads a stored row back, to compare: the label and every figure."""
    values = figures.values()
    for name in ("population", "scope_type", "scope_key"):
        del values[name]
    return values


@transaction.atomic
def metrics_recompute(
    *, quarters: Iterable[Quarter] | None = None, commitment_ids: Collection[int] | None = None
) -> RecomputeReport:
    """Recompute and store the live figures of ``quarters`` (all, if None).

    With ``commitment_ids``, only those commitments' spans and the scopes they belong to are recomputed.
    Pending markers are processed first, so that every quarter reflects the spans and the published
    flags; a recompute of every quarter (the nightly rebuild) also rewrites every span from the approved
    updates. Figures of a locked quarter keep their signed-off copy; the live rows then show what they
    would be now.
    """
    _exclusive_recompute_lock()
    _markers_drain()
    if commitment_ids is not None:
        spans_rebuild(commitment_ids=commitment_ids)
    elif quarters is None:
        spans_rebuild()
    report = _recompute_quarters(quarters=quarters, commitment_ids=commitment_ids)
    data_changed()
    return report


def _markers_drain() -> None:
    # Every pending marker, not only a first batch: what is computed next reads the commitments' current
    # published flags, and a publication marker left pending would later apply its change a second time.
    while markers_process(catch_up=False):
        pass


def _recompute_quarters(
    *, quarters: Iterable[Quarter] | None, commitment_ids: Collection[int] | None, today: date | None = None
) -> RecomputeReport:
    reporting = reporting_quarters_ensure(today=today)
    selected = sorted(set(quarters) & set(reporting)) if quarters is not None else sorted(reporting)
    scopes: set[tuple[str, str]] = set()
    if commitment_ids is not None:
        scopes = {pair for pairs in reached_scopes(commitment_ids).values() for pair in pairs}
    written = 0
    if quarters is None and commitment_ids is None:
        # The full rebuild: every quarter in one pass over the spans (``metrics.onepass``), equal to
        # ``figures_for`` quarter by quarter (tests/test_onepass.py).
        days = [
            QuarterDays(
                quarter, quarter.figures_day(today), quarter.previous().end if quarter > FIRST_QUARTER else None
            )
            for quarter in selected
        ]
        for quarter, figures in figures_by_quarter(days):
            written += _write(reporting[quarter], Basis.LIVE, figures, complete=True, day=quarter.figures_day(today))
        return RecomputeReport(quarters=len(selected), rows=written)
    for quarter in selected:
        row = reporting[quarter]
        # Some scopes alone may be recomputed only where the others describe the same day; otherwise all are.
        only = commitment_ids if row.live_figures_current(today) else None
        figures = figures_for(quarter, commitment_ids=only, today=today)
        written += _write(
            row, Basis.LIVE, figures, complete=only is None, scopes=scopes, day=quarter.figures_day(today)
        )
    return RecomputeReport(quarters=len(selected), rows=written)


@transaction.atomic
def quarter_lock(*, quarter: Quarter, user: Any, today: date | None = None) -> ReportingQuarter:
    """Sign a quarter off: its figures, recomputed now, are frozen as the signed-off copy (both populations).

    Only those who may record the board's sign-off (``LOCK_PERMISSION``) do: anyone else is refused (403).
    Once it has committed, a task publishes the quarter's open-data release (``PUBLISH_RELEASE_TASK``).
    """
    if not (user and user.is_authenticated and user.has_perm(LOCK_PERMISSION)):
        raise PermissionDenied("You do not have permission to record the board's sign-off of a quarter.")
    if quarter.end >= (today or timezone.localdate()):
        raise QuarterNotOverError(f"{quarter.label} ends on {quarter.end:%d %B %Y}; it can be signed off after that.")
    _exclusive_recompute_lock()
    reporting = reporting_quarters_ensure(today=today)[quarter]
    if reporting.is_locked:
        return reporting
    _markers_drain()
    figures = figures_for(quarter)
    _write(reporting, Basis.LIVE, figures, complete=True, day=quarter.end)
    _write(reporting, Basis.SIGNED_OFF, figures, complete=True)
    reporting.locked_at = timezone.now()
    reporting.locked_by = user
    reporting.save(update_fields=["locked_at", "locked_by"])
    data_changed()
    # The quarter's open data is published once the sign-off has committed (``metrics.releases``).
    transaction.on_commit(lambda: _enqueue_release(reporting.pk))
    return reporting


# The task that publishes a signed-off quarter's open-data release (``metrics.tasks``), by name, as above.
PUBLISH_RELEASE_TASK = "metrics.publish_release"


def _enqueue_release(quarter_id: int) -> None:
    try:
        enqueue_within_timeout(PUBLISH_RELEASE_TASK, quarter_id)
    except Exception:  # the broker is down or silent: a reviewer publishes it (admin, ``publish_release``)
        logger.warning("Could not enqueue the open-data release of quarter %s.", quarter_id, exc_info=True)


def metrics_mark_stale(*, commitment_id: int, from_date: date, was_published: bool | None = None) -> None:
    """Record, in the caller's transaction, that a commitment's figures changed from a date on.

    ``was_published`` is given for a publication or withdrawal: the flag before the change. Such a
    change then waits for any recompute under way, so that no recompute reads the new flag while its
    marker is still to come. After the transaction commits, a task is asked to recompute; if the broker
    cannot be reached, or does not answer within ``CELERY_ENQUEUE_TIMEOUT_SECONDS``, the marker waits for
    the periodic sweep (``metrics.recompute_pending`` every minute). One task processes every pending
    marker, so a transaction that marks many commitments (a bulk approval) asks once.
    """
    if was_published is not None:
        _exclusive_recompute_lock()
    RecomputeMarker.objects.create(commitment_id=commitment_id, from_date=from_date, was_published=was_published)
    # Once per transaction, as ``lsis.core.changes.data_changed`` does: each attempt may wait on the broker.
    db = transaction.get_connection()
    if db.in_atomic_block and any(callback is _enqueue_recompute for _, callback, _ in db.run_on_commit):
        return
    transaction.on_commit(_enqueue_recompute)


# The task that processes the markers, by the name metrics.tasks registers it under: the tasks import
# these services, never the other way round.
RECOMPUTE_TASK = "metrics.recompute_pending"


def metrics_mark_changing(*, commitment_ids: Collection[int], from_date: date | None, created: bool = False) -> None:
    """Record, before an edit writes, that it changes what the figures read about ``commitment_ids``.

    Written in the caller's transaction; ``from_date`` is the earliest day whose figures the edit can
    move (their dates, scopes or money). Registered for ``commitments.hooks.COMMITMENTS_CHANGING``. Each
    marker keeps what the figures read about its commitment now (``RecomputeMarker.before``: target
    date, deal publication date, scope keys, money and milestones), so processing can take away what the commitment
    contributed under those and add what it contributes after the edit, scope by scope (a commitment
    that moved area leaves one area and joins another). ``created``: the commitments are new and
    contributed nothing before. Like a publication, an edit waits for a recompute under way. A fixed
    number of queries whatever the number of commitments.
    """
    ids = sorted(set(commitment_ids))
    if not ids or from_date is None:
        return
    _exclusive_recompute_lock()
    basis = {pk: {"keys": []} for pk in ids} if created else _basis(ids)
    RecomputeMarker.objects.bulk_create(
        [RecomputeMarker(commitment_id=pk, from_date=from_date, before=basis[pk]) for pk in ids]
    )
    db = transaction.get_connection()
    if db.in_atomic_block and any(callback is _enqueue_recompute for _, callback, _ in db.run_on_commit):
        return
    transaction.on_commit(_enqueue_recompute)


def metrics_before_delete(*, commitment_ids: Collection[int]) -> None:
    """Bring the figures up to date with the pending markers of commitments about to be deleted.

    Their markers go with them: a withdrawal still pending would otherwise never leave the figures.
    Registered for ``commitments.hooks.COMMITMENTS_DELETING``.
    """
    if RecomputeMarker.objects.filter(commitment_id__in=commitment_ids).exists():
        _markers_drain()


def _basis(commitment_ids: Collection[int]) -> dict[int, dict[str, Any]]:
    """What the figures read about each commitment now, as a marker stores it (JSON)."""
    keys = scope_keys(commitment_ids)
    money = money_contributions(commitment_ids)
    facts = Commitment.objects.filter(pk__in=commitment_ids).values_list(
        "pk", "target_date", "deal__published_on", "section", "parent_id"
    )
    milestones = _milestones_of(commitment_ids)
    return {
        pk: {
            "target_date": target_date.isoformat() if target_date else None,
            "milestones": [
                [due_on.isoformat(), done_on.isoformat() if done_on else None] for due_on, done_on in milestones[pk]
            ],
            "deal_published_on": published_on.isoformat() if published_on else None,
            "kind": commitment_kind(section=section, parent_id=parent_id),
            "keys": [list(pair) for pair in keys[pk]],
            **money.get(pk, MoneyContribution()).to_json(),
        }
        for pk, target_date, published_on, section, parent_id in facts
    }


@dataclass(frozen=True)
class _Before:
    """What a commitment's stored figures were computed from, as ``_basis`` recorded it."""

    target_date: date | None
    deal_published_on: date | None
    keys: list[tuple[str, str]]
    money: MoneyContribution
    # Key commitment, chapter elaboration or sub-item (``rules.commitment_kind``): which populations it was
    # counted in. None in a marker written before kinds were recorded: its kind then is its kind now.
    kind: str | None = None
    # Its milestones' due and done days. None in a marker written before milestones were recorded: they are
    # its milestones now.
    milestones: list[tuple[date, date | None]] | None = None

    @classmethod
    def read(cls, stored: dict[str, Any]) -> _Before:
        def day(value: str | None) -> date | None:
            return date.fromisoformat(value) if value else None

        keys = [(scope_type, key) for scope_type, key in stored.get("keys", [])]
        money = MoneyContribution.from_json(stored)
        stored_milestones = stored.get("milestones")
        milestones = (
            None
            if stored_milestones is None
            else [(date.fromisoformat(due_on), day(done_on)) for due_on, done_on in stored_milestones]
        )
        return cls(
            day(stored.get("target_date")),
            day(stored.get("deal_published_on")),
            keys,
            money,
            stored.get("kind"),
            milestones,
        )

    def reached(self) -> set[tuple[str, str]]:
        """The scopes the commitment's figures reached: those it belonged to and its money's programmes."""
        return {*self.keys, *((ScopeType.PROGRAMME, key) for key in self.money.programmes)}


def _enqueue_recompute() -> None:
    try:
        enqueue_within_timeout(RECOMPUTE_TASK)
    except Exception:  # the broker is down or silent: the sweep will pick the marker up
        logger.warning("Could not enqueue a metrics recompute; the periodic sweep will do it.", exc_info=True)


DERIVED_STATE_REASON = "Delivery state derived from approved updates"


@transaction.atomic
def commitment_refresh_delivery_state(
    *, commitment_id: int, user: Any = None, reason: str = DERIVED_STATE_REASON
) -> bool:
    """Store the derived delivery state (``rules.derive_delivery_state``) on the commitment; return whether it changed.

    The one place that writes a commitment's stored state; audited under ``reason`` as ``user``.
    """
    commitment = Commitment.objects.select_for_update().get(pk=commitment_id)
    state = rules.derive_delivery_state(commitment_id=commitment_id)
    if rules.stored_delivery_state(commitment) == state:
        return False
    commitment.delivery_status = state.status
    commitment.delivery_confidence = state.confidence
    commitment.progress = state.progress
    commitment.delivery_as_of = state.as_of
    commitment.modified_by = user if getattr(user, "is_authenticated", False) else None
    commitment._history_user = commitment.modified_by  # type: ignore[attr-defined]
    commitment._change_reason = reason  # type: ignore[attr-defined]
    commitment.save(
        update_fields=[
            "delivery_status",
            "delivery_confidence",
            "progress",
            "delivery_as_of",
            "modified_at",
            "modified_by",
        ]
    )
    return True


def on_update_approved(*, update: Any, user: Any) -> None:
    """``commitments.hooks.UPDATE_APPROVED``: store the state the approval gives, and mark the figures stale."""
    commitment_refresh_delivery_state(commitment_id=update.commitment_id, user=user)
    metrics_mark_stale(commitment_id=update.commitment_id, from_date=update.as_of)


def on_publication_changed(*, commitment: Commitment, was_published: bool) -> None:
    """``commitments.hooks.PUBLICATION_CHANGED``: mark the figures stale from the deal's publication on.

    Every quarter the commitment can count in (``rules.counted_on``) may move.
    """
    from_date = Document.objects.values_list("published_on", flat=True).get(pk=commitment.deal_id)
    metrics_mark_stale(commitment_id=commitment.pk, from_date=from_date, was_published=was_published)


def markers_pending() -> bool:
    """Whether some figures are waiting to be recomputed ("updating")."""
    return RecomputeMarker.objects.exists()


_FIGURE_FIELD_TYPES = {field.name: field for field in QuarterMetric._meta.concrete_fields}

# Above this many commitments in one batch, recomputing their scopes set-based beats adjusting row by row.
DELTA_LIMIT = 200


@transaction.atomic
def markers_process(*, today: date | None = None, catch_up: bool = True) -> int:
    """Bring the figures up to date with what the pending markers name, delete them; return how many.

    The figures of the marked commitments' scopes are adjusted by the difference between what each
    commitment contributed under its old spans and published flag and under its new ones, quarter by
    quarter: a handful of single-row updates, whatever the number of commitments. Markers and the
    adjusted rows change in one transaction, and the spans and the publication markers record what the
    figures were computed from, so a second run finds nothing to do. Runs take the recompute lock first:
    a task redelivered after its worker was killed waits for the dead session to be rolled back, then
    finds the markers again and reaches the same rows.

    With ``catch_up``, a quarter whose live figures describe another day than they should (the quarter in
    progress once the day has moved on, or that has just ended) is then recomputed in full: the periodic
    sweep keeps the figures so far as of today without anybody's edit.
    """
    _exclusive_recompute_lock()
    batch = RecomputeMarker.objects.select_for_update().order_by("pk")[:1000].values_list("commitment_id", flat=True)
    commitment_ids = set(batch)
    if not commitment_ids:
        behind = _quarters_behind(today) if catch_up else []
        if behind:
            _recompute_quarters(quarters=behind, commitment_ids=None, today=today)
            data_changed()
        return 0
    # Every marker of these commitments, not only those of the first batch: the figures are brought to the
    # current published flags, so a later publication marker must not be applied again in another run.
    claimed = list(RecomputeMarker.objects.select_for_update().filter(commitment_id__in=commitment_ids).order_by("pk"))
    earliest = min(marker.from_date for marker in claimed)
    # The first publication marker of a commitment holds the flag its stored figures were computed with.
    was_published: dict[int, bool] = {}
    # Likewise the first edit marker holds what the figures read about the commitment before its edits.
    edited: dict[int, _Before] = {}
    for marker in claimed:
        if marker.was_published is not None:
            was_published.setdefault(marker.commitment_id, marker.was_published)
        if marker.before is not None and marker.commitment_id not in edited:
            edited[marker.commitment_id] = _Before.read(marker.before)
    quarters = [q for q in quarters_until(today or timezone.localdate()) if q.end >= earliest]
    # A quarter whose figures describe another day is recomputed in full below, not adjusted.
    lagging = set(_quarters_behind(today))
    if len(commitment_ids) > DELTA_LIMIT:
        spans_rebuild(commitment_ids=commitment_ids)
        current = {pair for pairs in reached_scopes(commitment_ids).values() for pair in pairs}
        if any(before.reached() - current for before in edited.values()):
            # Some left scopes the set-based recompute of their current ones does not cover: every scope.
            _recompute_quarters(quarters=quarters, commitment_ids=None, today=today)
        else:
            _recompute_quarters(quarters=quarters, commitment_ids=commitment_ids, today=today)
    else:
        before = _spans_of(commitment_ids)
        spans_rebuild(commitment_ids=commitment_ids)
        adjusted = [quarter for quarter in quarters if quarter not in lagging]
        missing = _adjust(
            adjusted, commitment_ids, before, _spans_of(commitment_ids), was_published, edited, today=today
        )
        if missing:  # a scope with no row yet for some quarter: compute those scopes in full
            _recompute_quarters(quarters=missing, commitment_ids=commitment_ids, today=today)
    still_behind = _quarters_behind(today) if catch_up else []
    if still_behind:
        _recompute_quarters(quarters=still_behind, commitment_ids=None, today=today)
    RecomputeMarker.objects.filter(pk__in=[marker.pk for marker in claimed]).delete()
    data_changed()  # the figures and their "updating" flags, written in bulk
    return len(claimed)


def _quarters_behind(today: date | None) -> list[Quarter]:
    """Quarters whose live figures describe another day than ``Quarter.figures_day`` (one query).

    Those are quarters computed before the day moved on (the quarter in progress, or one that has just
    ended), and the quarter in progress if it was never computed. Earlier quarters never computed are left
    to the full rebuild.
    """
    current = Quarter.containing(today or timezone.localdate())
    return [
        quarter
        for quarter, row in reporting_quarters_ensure(today=today).items()
        # A quarter after today (only where a caller gives an earlier day) is not behind: nothing reads it then.
        if quarter <= current
        and (row.live_as_of is not None or quarter == current)
        and not row.live_figures_current(today)
    ]


def _milestones_of(commitment_ids: Collection[int]) -> dict[int, list[tuple[date, date | None]]]:
    """Each commitment's milestones as the figures read them (due and done days), by commitment id; one query."""
    milestones: dict[int, list[tuple[date, date | None]]] = {pk: [] for pk in commitment_ids}
    rows = Milestone.objects.filter(commitment_id__in=commitment_ids).order_by("commitment_id", "due_on", "pk")
    for commitment_id, due_on, done_on in rows.values_list("commitment_id", "due_on", "done_on"):
        milestones[commitment_id].append((due_on, done_on))
    return milestones


def _spans_of(commitment_ids: Collection[int]) -> dict[int, list[Span]]:
    spans: dict[int, list[Span]] = defaultdict(list)
    rows = DeliverySpan.objects.filter(commitment_id__in=commitment_ids).order_by("commitment_id", "starts")
    for commitment_id, *values in rows.values_list("commitment_id", *Span.__dataclass_fields__):
        spans[commitment_id].append(Span(*values))
    return spans


def _adjust(
    quarters: list[Quarter],
    commitment_ids: Collection[int],
    before: dict[int, list[Span]],
    after: dict[int, list[Span]],
    was_published: dict[int, bool],
    edited: dict[int, _Before] | None = None,
    *,
    today: date | None = None,
) -> list[Quarter]:
    """Add each commitment's change of contribution to its scopes' live rows; return quarters lacking rows.

    ``was_published`` gives, for a commitment published or withdrawn since its figures were computed,
    the flag they were computed with; ``edited``, for a commitment edited since, what they read about
    it then (target date, deal publication date, scopes, money, kind, milestones). The others kept theirs. What a
    commitment contributed is taken from the scopes it was in, in the populations its kind was counted in,
    and what it contributes added to those it is in now.
    """
    edited = edited or {}
    keys = scope_keys(commitment_ids)
    facts = list(
        Commitment.objects.filter(pk__in=commitment_ids).values_list(
            "pk", "target_date", "deal__published_on", "section", "parent_id", "published"
        )
    )
    republished = [pk for pk, *_, published in facts if was_published.get(pk, published) != published]
    # Publishing or withdrawing moves the commitment's money too, which no update does; so can an edit.
    with_money = [*republished, *(pk for pk in edited if pk not in republished)]
    money = money_contributions(with_money) if with_money else {}
    milestones = _milestones_of(commitment_ids)
    changes: dict[tuple[Quarter, str, str, str], Counter[str]] = defaultdict(Counter)
    nothing = dict.fromkeys(FIGURE_FIELDS, 0)
    for pk, target_date, published_on, section, parent_id, published in facts:
        old_facts = edited.get(pk)
        old_keys = old_facts.keys if old_facts else keys[pk]
        old_money = old_facts.money if old_facts else money.get(pk)
        kind = commitment_kind(section=section, parent_id=parent_id)
        old_kind = (old_facts.kind if old_facts else None) or kind
        old_milestones = old_facts.milestones if old_facts and old_facts.milestones is not None else milestones[pk]
        for quarter in quarters:
            previous_end = quarter.previous().end if quarter > FIRST_QUARTER else None
            day = quarter.figures_day(today)  # the day the stored rows describe (``_quarters_behind``)
            common: dict[str, Any] = {"day": day, "period_start": quarter.start, "previous_end": previous_end}
            old_counted = counts(
                published=was_published.get(pk, published),
                deal_published_on=old_facts.deal_published_on if old_facts else published_on,
                day=day,
            )
            new_counted = counts(published=published, deal_published_on=published_on, day=day)
            old = scope_contributions(
                contribution(
                    before.get(pk, []),
                    **common,
                    target_date=old_facts.target_date if old_facts else target_date,
                    counted=old_counted,
                    milestones=old_milestones,
                ),
                old_money,
                counted=old_counted,
                keys=old_keys,
            )
            new = scope_contributions(
                contribution(
                    after.get(pk, []), **common, target_date=target_date, counted=new_counted, milestones=milestones[pk]
                ),
                money.get(pk),
                counted=new_counted,
                keys=keys[pk],
            )
            # Each population takes what the commitment added to it (if it was of a kind counted there) away,
            # and adds what it adds now: both populations' rows move in the same statement.
            for population, pair in itertools.product(Population.values, old.keys() | new.keys()):
                taken = old.get(pair, nothing) if in_population(population=population, kind=old_kind) else nothing
                added = new.get(pair, nothing) if in_population(population=population, kind=kind) else nothing
                difference = Counter({name: added[name] - taken[name] for name in FIGURE_FIELDS})
                if any(difference.values()):
                    changes[(quarter, population, *pair)].update(difference)
    reporting = reporting_quarters_ensure(today=today)
    quarter_of = {reporting[quarter].pk: quarter for quarter in {quarter for quarter, *_ in changes}}
    wanted = {
        (reporting[quarter].pk, population, scope_type, scope_key): change
        for (quarter, population, scope_type, scope_key), change in changes.items()
        if any(change.values())
    }
    found = live_rows_add(changes=wanted, computed_at=timezone.now())  # one statement, whatever the quarters
    missing = {quarter_of[key[0]] for key in wanted.keys() - found}
    by_quarter = {quarter_of[key[0]] for key in wanted}
    for quarter in by_quarter:  # written in bulk, with no signals: the change feed compares these quarters
        figures_changed(year=quarter.year, number=quarter.number, basis=Basis.LIVE)
    if (republished or edited) and by_quarter:
        # A withdrawal or an edit can leave a scope with no commitment that counts and no money attributed to
        # it: a full recompute has no row for it, so neither do these figures. The whole tracker keeps its row,
        # zeros included.
        QuarterMetric.objects.filter(
            quarter__in=[reporting[quarter] for quarter in sorted(by_quarter)],
            basis=Basis.LIVE,
            commitments=0,
            **dict.fromkeys(MONEY_FIELDS, 0),
        ).exclude(scope_type=ScopeType.TRACKER, scope_key=TRACKER_KEY).delete()
    return sorted(missing)


def oldest_pending_marker() -> Any:
    """When the oldest pending marker was written, or None."""
    return RecomputeMarker.objects.aggregate(oldest=Min("created_at"))["oldest"]

"""Reads behind the board dashboards: stored quarterly figures, commitments in a scope, and what changed.

Every function here issues a fixed number of queries whatever the number of commitments: figures come
from the stored ``QuarterMetric`` rows (or, for time travel, from ``metrics_as_of``), and commitment lists
are single annotated queries. Nothing here writes.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Case, F, IntegerField, OuterRef, Q, Subquery, Value, When
from django.utils import timezone

from commitments.delivery import DeliveryConfidence, DeliveryStatus
from commitments.models import (
    Commitment,
    CommitmentQuerySet,
    Framework,
    StatusUpdate,
    Theme,
    ThemeKind,
    commitments_as_recorded,
)
from commitments.periods import Quarter, last_completed
from metrics import rules
from metrics.engine import FIGURE_FIELDS, SCOPES, TRACKER_KEY, Scope
from metrics.models import Basis, QuarterMetric, ReportingQuarter, ScopeType
from metrics.rules import (
    AT_RISK,
    CONFIDENCE_RANK,
    DEFAULT_POPULATION,
    ON_TRACK,
    STATUS_RANK,
    Population,
    counted_on,
    population_condition,
)
from metrics.services import metrics_as_of
from metrics.tables import percent
from programmes.models import FundingAmount, FundingAmountQuerySet
from programmes.totals import Money, MoneyByProgramme, money_by_funder_type, money_by_programme, money_total

# A list's confidence filter: a rating, no rating, or a group of ratings (``metrics.rules``).
CONFIDENCE_GROUPS: dict[str, tuple[str, ...]] = {"on_track": ON_TRACK, "at_risk": AT_RISK}
# Sort orders of the commitment lists: the ranks movement is read on, unrated first.
STATUS_ORDER = STATUS_RANK
CONFIDENCE_ORDER: dict[str, int] = {"": 0, **CONFIDENCE_RANK}

BREAKDOWN_SCOPES: dict[str, str] = {
    ScopeType.DEAL: "Deals",
    ScopeType.FOUNDATION: "Foundations and areas",
    ScopeType.THEME: "Themes",
    ScopeType.ACTOR: "Actors",
    ScopeType.LEAD_ORGANISATION: "Lead organisations",
    ScopeType.PROGRAMME: "Programmes",
}
SCOPE_BY_TYPE: dict[str, Scope] = {scope.scope_type: scope for scope in SCOPES}


class UnknownScopeError(LookupError):
    """No figures and no commitments for the scope asked for."""


# --- periods -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """What a page reports on: a quarter as of its last day, or (time travel) as of an earlier day.

    The quarter under way is ``in_progress``: its figures are those so far, as of today (``as_of`` is
    today, ``Quarter.figures_day``), never those of its last day, which is still to come. They are read
    from the stored rows once those describe today (``ReportingQuarter.live_as_of``, kept so by the
    recompute sweep), and computed on the request until then.
    """

    reporting: ReportingQuarter
    as_of: date | None = None
    in_progress: bool = False
    # Which commitments every figure, list and total of the page counts (``metrics.rules.Population``).
    population: str = DEFAULT_POPULATION

    @classmethod
    def of_quarter(
        cls, reporting: ReportingQuarter, today: date | None = None, *, population: str = DEFAULT_POPULATION
    ) -> Period:
        """A whole quarter: as of its last day once over; while in progress, the figures so far, as of today."""
        if reporting.quarter.is_over(today):
            return cls(reporting, population=population)
        return cls(reporting, as_of=reporting.quarter.figures_day(today), in_progress=True, population=population)

    @property
    def population_label(self) -> str:
        """What the figures count, in words: "key commitments", or everything."""
        return "key commitments" if self.population == Population.KEY else "commitments of every kind"

    @property
    def time_travel(self) -> bool:
        """Whether the reader asked for an as-of day (rather than a quarter, or the quarter so far)."""
        return self.as_of is not None and not self.in_progress

    @property
    def computed_on_request(self) -> bool:
        """Whether the figures are computed for the request (time travel) rather than read from stored rows.

        The quarter in progress reads its stored rows when they describe the same day as the page.
        """
        if self.as_of is None:
            return False
        return not (self.in_progress and self.reporting.live_as_of == self.as_of)

    @property
    def description(self) -> str:
        """The period in words, e.g. ``2026-27 Q2``, ``2026-27 Q3 so far, as of 6 December 2026``."""
        if self.as_of is None:
            return self.quarter.label
        day = f"{self.as_of:%-d %B %Y}"
        return f"{self.quarter.label} so far, as of {day}" if self.in_progress else f"As of {day}"

    @property
    def quarter(self) -> Quarter:
        """The quarter reported on."""
        return self.reporting.quarter

    @property
    def day(self) -> date:
        """The day the figures describe."""
        return self.as_of or self.quarter.end

    @property
    def is_current(self) -> bool:
        """Whether the day is today or later, so that the commitments' stored state is the state as of it."""
        return self.day >= timezone.localdate()

    @property
    def shows_signed_off(self) -> bool:
        """Whether the page shows the figures the board signed off rather than live ones."""
        return self.as_of is None and self.reporting.is_locked

    @property
    def recorded_at(self) -> datetime | None:
        """When the figures shown were recorded: the sign-off of a signed-off quarter, else None (live).

        Lists read as of this moment (``rules.with_state_on``'s ``approved_by``) agree with the signed-off
        figures beside them: an update approved after sign-off restates the quarter, and is shown apart.
        """
        return self.reporting.locked_at if self.shows_signed_off else None


def reporting_quarters(today: date | None = None) -> list[ReportingQuarter]:
    """Every quarter the tracker reports on that has begun, oldest first (one query)."""
    current = Quarter.containing(today or timezone.localdate())
    rows = ReportingQuarter.objects.order_by("year", "number")
    return [row for row in rows if row.quarter <= current]


def default_quarter(quarters: list[ReportingQuarter], today: date | None = None) -> ReportingQuarter | None:
    """The quarter a page opens on: the last completed one (``commitments.periods.last_completed``).

    Without figures for it, the latest completed quarter there are figures for; with none completed, the
    quarter in progress.
    """
    completed = [row for row in quarters if row.quarter <= last_completed(today)]
    return completed[-1] if completed else (quarters[-1] if quarters else None)


def quarter_row(quarters: Iterable[ReportingQuarter], quarter: Quarter) -> ReportingQuarter | None:
    """The row of ``quarter`` among ``quarters``, or None."""
    return next((row for row in quarters if row.quarter == quarter), None)


# --- figures -----------------------------------------------------------------------------------------


@dataclass
class ScopeFigures:
    """The figures of one scope as a page shows them, with the live figures where a signed-off quarter moved."""

    figures: Any  # a QuarterMetric row, or engine Figures for time travel
    live: Any = None  # the live row of a signed-off quarter, where it differs (a restatement)
    # A signed-off quarter with no signed-off row for this scope and population (signed off before the key
    # commitments' figures were kept apart, or before the scope had figures): the live figures, saying so.
    live_in_signed_off: bool = False

    def __getattr__(self, name: str) -> Any:
        if name in {"figures", "live", "live_in_signed_off"}:
            raise AttributeError(name)
        return getattr(self.figures, name)

    @property
    def restated(self) -> bool:
        """Whether the live figures now differ from those signed off."""
        return self.live is not None

    @property
    def on_track(self) -> int:
        """Commitments rated green or amber/green."""
        return sum(getattr(self.figures, value) for value in ON_TRACK)

    @property
    def at_risk(self) -> int:
        """Commitments rated amber/red or red."""
        return sum(getattr(self.figures, value) for value in AT_RISK)

    @property
    def share_delivered(self) -> Decimal | None:
        """Delivered as a share of all commitments counted (``metrics.rules.share_delivered``)."""
        return rules.share_delivered(delivered=self.figures.delivered, commitments=self.figures.commitments)

    @property
    def mean_progress(self) -> Decimal | None:
        """Mean progress of the ``progress_reported`` commitments reporting a figure (``metrics.rules``)."""
        return rules.mean_progress(
            progress_total=self.figures.progress_total, progress_reported=self.figures.progress_reported
        )

    @property
    def freshness(self) -> Decimal | None:
        """The quarter's updates done as a share of those due (``metrics.rules.freshness``); None if none is due."""
        done, due = self.figures.updates_done, self.figures.updates_due
        # Not recorded in figures signed off before the quarter's updates were kept.
        return None if done is None or due is None else rules.freshness(updates_done=done, updates_due=due)

    @property
    def freshness_percent(self) -> str:
        """Freshness as a whole percentage, or "n/a" where no update is due."""
        return percent(self.freshness)

    def changed_fields(self) -> list[tuple[str, Any, Any]]:
        """(field, signed off, live) for each figure the restatement changed."""
        if self.live is None:
            return []
        return [
            (name, getattr(self.figures, name), getattr(self.live, name))
            for name in _restated_fields(self.figures, self.live)
        ]


def _restated_fields(signed: Any, live: Any) -> list[str]:
    # A figure a sign-off did not record (empty, from before it was kept) is not restated by having a value now.
    return [
        name
        for name in FIGURE_FIELDS
        if getattr(signed, name) is not None and getattr(signed, name) != getattr(live, name)
    ]


def _differs(first: Any, second: Any) -> bool:
    return bool(_restated_fields(first, second))


def _as_shown(rows: Iterable[QuarterMetric], *, locked: bool) -> dict[tuple[int, str, str], ScopeFigures]:
    """Pick, per quarter and scope, the signed-off row of a locked quarter (with the live one if it moved)."""
    by_basis: dict[str, dict[tuple[int, str, str], QuarterMetric]] = defaultdict(dict)
    for row in rows:
        by_basis[row.basis][(row.quarter_id, row.scope_type, row.scope_key)] = row
    live, signed = by_basis[Basis.LIVE], by_basis[Basis.SIGNED_OFF]
    shown: dict[tuple[int, str, str], ScopeFigures] = {}
    for key in live.keys() | signed.keys():
        if locked and key in signed:
            current = live.get(key)
            shown[key] = ScopeFigures(
                signed[key], current if current is not None and _differs(signed[key], current) else None
            )
        elif key in live:
            shown[key] = ScopeFigures(live[key], live_in_signed_off=locked)
    return shown


def quarter_figures(period: Period, scope_types: Iterable[str]) -> dict[str, list[ScopeFigures]]:
    """The figures of every scope of ``scope_types`` for the period, by scope type, ordered by label."""
    wanted = set(scope_types)
    result: dict[str, list[ScopeFigures]] = {scope_type: [] for scope_type in wanted}
    if period.computed_on_request:
        for figures in metrics_as_of(day=period.day):
            if figures.scope_type in wanted and figures.population == period.population:
                result[figures.scope_type].append(ScopeFigures(figures))
    else:
        bases = [Basis.LIVE, Basis.SIGNED_OFF] if period.reporting.is_locked else [Basis.LIVE]
        rows = QuarterMetric.objects.filter(
            quarter=period.reporting, population=period.population, scope_type__in=wanted, basis__in=bases
        )
        for (_, scope_type, _), shown in _as_shown(rows, locked=period.reporting.is_locked).items():
            result[scope_type].append(shown)
    for items in result.values():
        items.sort(key=lambda item: (str(item.scope_label).lower(), item.scope_key))
    return result


def tracker_figures(reporting: ReportingQuarter, population: str = DEFAULT_POPULATION) -> ScopeFigures | None:
    """The whole tracker's stored figures for a quarter (one query)."""
    figures = quarter_figures(Period(reporting, population=population), [ScopeType.TRACKER])[ScopeType.TRACKER]
    return figures[0] if figures else None


@dataclass
class Overview:
    """The quarter overview: headline figures, breakdowns, and movement since the previous quarter."""

    period: Period
    tracker: ScopeFigures | None
    previous: ScopeFigures | None
    previous_quarter: ReportingQuarter | None
    deals: list[ScopeFigures]
    foundations: list[tuple[ScopeFigures, list[ScopeFigures]]]
    actors: list[ScopeFigures]


def overview_read(period: Period, quarters: list[ReportingQuarter]) -> Overview:
    """Everything the overview shows (the previous quarter's whole-tracker row comes in the same query)."""
    types = [ScopeType.TRACKER, ScopeType.DEAL, ScopeType.FOUNDATION, ScopeType.AREA, ScopeType.ACTOR]
    previous_quarter = quarter_row(quarters, period.quarter.previous())
    figures: dict[str, list[ScopeFigures]]
    if period.computed_on_request:
        figures = quarter_figures(period, types)
        previous = tracker_figures(previous_quarter, period.population) if previous_quarter is not None else None
    else:
        wanted = [period.reporting] + ([previous_quarter] if previous_quarter is not None else [])
        rows = list(
            QuarterMetric.objects.filter(
                quarter__in=wanted, population=period.population, scope_type__in=types
            ).exclude(~Q(quarter=period.reporting), ~Q(scope_type=ScopeType.TRACKER))
        )
        locked = {row.pk for row in wanted if row.is_locked}
        shown = _as_shown(
            [r for r in rows if r.quarter_id == period.reporting.pk], locked=period.reporting.pk in locked
        )
        figures = {scope_type: [] for scope_type in types}
        for (_, scope_type, _), item in shown.items():
            figures[scope_type].append(item)
        for items in figures.values():
            items.sort(key=lambda item: (str(item.scope_label).lower(), item.scope_key))
        previous = None
        if previous_quarter is not None:
            before = _as_shown(
                [r for r in rows if r.quarter_id == previous_quarter.pk], locked=previous_quarter.pk in locked
            )
            previous = next(iter(before.values()), None)
    tracker = figures[ScopeType.TRACKER]
    return Overview(
        period=period,
        tracker=tracker[0] if tracker else None,
        previous=previous,
        previous_quarter=previous_quarter,
        deals=figures[ScopeType.DEAL],
        foundations=foundations_with_areas(figures[ScopeType.FOUNDATION], figures[ScopeType.AREA]),
        actors=figures[ScopeType.ACTOR],
    )


def foundations_with_areas(
    foundations: list[ScopeFigures], areas: list[ScopeFigures]
) -> list[tuple[ScopeFigures, list[ScopeFigures]]]:
    """Foundations in the order the strategy prints them, each with its areas (one query)."""
    themes = {
        theme.code: theme
        for theme in Theme.objects.filter(kind__in=[ThemeKind.FOUNDATION, ThemeKind.AREA]).select_related("parent")
    }

    def position(item: ScopeFigures) -> tuple[int, str]:
        theme = themes.get(item.scope_key)
        return (theme.position if theme else 0, str(item.scope_label))

    areas_of: dict[str, list[ScopeFigures]] = defaultdict(list)
    for area in areas:
        theme = themes.get(area.scope_key)
        if theme is not None and theme.parent is not None:
            areas_of[theme.parent.code].append(area)
    return [
        (foundation, sorted(areas_of[foundation.scope_key], key=position))
        for foundation in sorted(foundations, key=position)
    ]


def theme_frameworks() -> list[Framework]:
    """Frameworks whose themes commitments are tagged with (one query)."""
    return list(Framework.objects.filter(themes__kind=ThemeKind.THEME).distinct().order_by("code"))


def themes_of(framework: Framework, items: list[ScopeFigures]) -> list[ScopeFigures]:
    """The theme figures of one framework, in the framework's printed order (one query)."""
    positions = {str(uuid): position for uuid, position in framework.themes.values_list("uuid", "position")}
    return sorted((item for item in items if item.scope_key in positions), key=lambda item: positions[item.scope_key])


# --- one scope over time -----------------------------------------------------------------------------


@dataclass
class ScopeHistory:
    """A scope's figures for every quarter up to the period."""

    scope_type: str
    scope_key: str
    label: str
    points: list[tuple[ReportingQuarter, ScopeFigures]] = field(default_factory=list)
    as_of_point: ScopeFigures | None = None
    # The commitments each quarter's stored live figures count (``stored_count``).
    live_counts: dict[Quarter, int] = field(default_factory=dict)
    # The figures of the period itself: the day asked for, or the quarter's; None where it has none.
    current: ScopeFigures | None = None

    def stored_count(self, period: Period) -> int | None:
        """How many commitments the period's stored live figures count, or None if none are read.

        That is the length of the scope's list unfiltered on the period's day: the same rules count both
        (``tests/test_honest_measures.py``), so the list's pages need not count them again.
        """
        return None if period.computed_on_request else self.live_counts.get(period.quarter)


def scope_history(period: Period, scope_type: str, scope_key: str) -> ScopeHistory:
    """The figures of one scope in every quarter since the first, up to the period (one query).

    Raises ``UnknownScopeError`` when the scope has neither figures nor commitments.
    """
    scope = SCOPE_BY_TYPE.get(scope_type)
    if scope is None:
        raise UnknownScopeError(scope_type)
    until = period.quarter.previous() if period.computed_on_request else period.quarter
    rows = list(
        QuarterMetric.objects.filter(scope_type=scope_type, scope_key=scope_key, population=period.population)
        .filter(Q(quarter__year__lt=until.year) | Q(quarter__year=until.year, quarter__number__lte=until.number))
        .select_related("quarter")
    )
    reporting = {row.quarter_id: row.quarter for row in rows}
    live_counts = {row.quarter.quarter: row.commitments for row in rows if row.basis == Basis.LIVE}
    shown: dict[tuple[int, str, str], ScopeFigures] = {}
    for quarter_id, quarter in reporting.items():
        shown.update(_as_shown([row for row in rows if row.quarter_id == quarter_id], locked=quarter.is_locked))
    points = sorted(((reporting[key[0]], item) for key, item in shown.items()), key=lambda point: point[0].quarter)
    as_of_point = None
    if period.in_progress and not period.computed_on_request:
        # The stored figures so far of the quarter in progress: shown as such, not as the quarter's.
        if points and points[-1][0].quarter == period.quarter:
            as_of_point = points.pop()[1]
    elif period.as_of is not None:
        as_of_point = next(
            (
                ScopeFigures(item)
                for item in metrics_as_of(day=period.as_of)
                if item.scope_type == scope_type
                and item.scope_key == scope_key
                and item.population == period.population
            ),
            None,
        )
    label = as_of_point.scope_label if as_of_point else (points[-1][1].scope_label if points else "")
    if not label:
        if not scope_commitments(scope_type, scope_key, period.population).exists():
            raise UnknownScopeError(f"{scope_type} {scope_key}")
        label = scope_key
    current = as_of_point
    if current is None and points and points[-1][0].quarter == period.quarter:
        current = points[-1][1]
    return ScopeHistory(scope_type, scope_key, str(label), points, as_of_point, live_counts, current)


# --- commitments -------------------------------------------------------------------------------------


def scope_commitments(scope_type: str, scope_key: str, population: str = DEFAULT_POPULATION) -> CommitmentQuerySet:
    """The commitments a scope's figures count in ``population`` (the engine's own scope definitions)."""
    scope = SCOPE_BY_TYPE.get(scope_type)
    if scope is None:
        raise UnknownScopeError(scope_type)
    commitments = Commitment.objects.filter(population_condition(population))
    if scope.key is None:
        if scope_key != TRACKER_KEY:
            raise UnknownScopeError(scope_key)
        return commitments
    try:
        return commitments.filter(**{scope.key: scope_key, **scope.condition})
    except ValidationError as error:  # a malformed UUID: no such scope
        raise UnknownScopeError(scope_key) from error


SORTS: dict[str, Any] = {
    "reference": ("reference",),
    "status": ("status_order", "reference"),
    "confidence": ("confidence_order", "reference"),
    "progress": (F("state_progress").asc(nulls_first=True), "reference"),
    "target": (F("counted_target_date").asc(nulls_last=True), "reference"),
    "updated": (F("state_as_of").asc(nulls_first=True), "reference"),
}


def counted_commitments(
    commitments: CommitmentQuerySet, day: date, population: str, *, recorded_at: datetime | None = None
) -> CommitmentQuerySet:
    """``commitments`` counted on ``day`` in ``population``, annotated with the ``counted_target_date`` to read.

    With ``recorded_at`` (``Period.recorded_at``: a signed-off quarter), the commitments as they were recorded
    then (``commitments_as_recorded``): published, kind and target date as the signed-off figures read them, so
    an edit since moves no list away from its figure. One written without history stands as it is now.
    """
    if recorded_at is None:
        return commitments.filter(counted_on(day), population_condition(population)).annotate(
            counted_target_date=F("target_date")
        )
    records = commitments_as_recorded(recorded_at)
    unrecorded = ~Q(pk__in=Commitment.history.values("id"))
    return commitments.filter(
        Q(pk__in=records.filter(counted_on(day), population_condition(population)).values("id"))
        | (unrecorded & Q(created_at__lte=recorded_at) & counted_on(day) & population_condition(population))
    ).annotate(
        counted_target_date=Case(
            When(unrecorded, then=F("target_date")),
            default=Subquery(records.filter(id=OuterRef("pk")).values("target_date")[:1]),
        )
    )


def commitments_on(
    commitments: CommitmentQuerySet,
    period: Period,
    *,
    status: str = "",
    confidence: str = "",
    overdue: bool = False,
    stale: bool = False,
    progress: str = "",
    sort: str = "reference",
    descending: bool = False,
    approved_by: datetime | None = None,
) -> CommitmentQuerySet:
    """Commitments counted on the period's day with their state then, filtered and sorted (one query).

    Only those of the period's population count. ``confidence`` is a rating, ``none`` or a group of
    ``CONFIDENCE_GROUPS``; ``overdue`` and ``stale`` (no approved update this quarter) keep those the rules say
    are; ``progress`` is ``reported`` or ``not_reported`` (a progress figure or none); with ``approved_by``, the
    state is the one recorded then (``Period.recorded_at``: a signed-off quarter).
    """
    day = period.day
    state_day = None if period.is_current and approved_by is None else day
    rows: Any = (  # annotated: the plugin cannot see the state_* names
        rules.with_state_on(
            counted_commitments(commitments, day, period.population, recorded_at=approved_by),
            state_day,
            approved_by=approved_by,
        )
        .annotate(
            status_order=Case(
                *(When(state_status=value, then=Value(rank)) for value, rank in STATUS_ORDER.items()),
                output_field=IntegerField(),
            ),
            confidence_order=Case(
                *(When(state_confidence=value, then=Value(rank)) for value, rank in CONFIDENCE_ORDER.items()),
                output_field=IntegerField(),
            ),
        )
        .select_related("deal")
    )
    if status:
        rows = rows.filter(state_status=status)
    if confidence == "none":
        rows = rows.filter(state_confidence="")
    elif confidence in CONFIDENCE_GROUPS:
        rows = rows.filter(state_confidence__in=CONFIDENCE_GROUPS[confidence])
    elif confidence:
        rows = rows.filter(state_confidence=confidence)
    if overdue:
        rows = rows.filter(rules.overdue_condition(on=day, status="state_status", target_date="counted_target_date"))
    if stale:
        rows = rows.filter(rules.stale_state(period_start=period.quarter.start))
    if progress:
        reported = rules.progress_reported_condition("state_progress")
        rows = rows.filter(reported if progress == "reported" else ~reported)
    order = [_flip(item) if descending else item for item in SORTS.get(sort, SORTS["reference"])]
    return rows.order_by(*order)


def _flip(item: Any) -> Any:
    if isinstance(item, str):
        return F(item).desc()
    item = item.copy()
    item.descending = not item.descending
    item.nulls_first, item.nulls_last = item.nulls_last, item.nulls_first
    return item


def commitment_for_page(reference: str) -> Commitment | None:
    """A commitment with everything its page shows, or None."""
    return Commitment.objects.for_detail_page().filter(reference=reference).first()


# --- what changed between two days -------------------------------------------------------------------


@dataclass
class Movement:
    """A commitment whose status or confidence moved between two days."""

    commitment: Commitment
    status_before: str
    confidence_before: str
    status_after: str
    confidence_after: str

    @property
    def moved(self) -> rules.Movement:
        """How it moved (``metrics.rules.movement``: improved, worsened, newly rated, ...)."""
        return rules.movement(
            status_before=self.status_before,
            confidence_before=self.confidence_before,
            status_after=self.status_after,
            confidence_after=self.confidence_after,
        )

    @property
    def before_text(self) -> str:
        """E.g. "In progress, Amber"."""
        return _state_text(self.status_before, self.confidence_before)

    @property
    def after_text(self) -> str:
        """E.g. "Delivered, Green"."""
        return _state_text(self.status_after, self.confidence_after)


def _state_text(status: str, confidence: str) -> str:
    text = str(DeliveryStatus(status).label)
    return f"{text}, {DeliveryConfidence(confidence).label}" if confidence else f"{text}, no confidence rating"


@dataclass
class Restatement:
    """A signed-off quarter whose live figures have since moved, and the back-dated updates that moved them."""

    reporting: ReportingQuarter
    figures: ScopeFigures | None
    updates: list[StatusUpdate]


@dataclass
class Changes:
    """What changed between the end of one quarter (or day) and another."""

    earlier: date
    later: date
    improved: list[Movement]
    worsened: list[Movement]
    status_changed: list[Movement]
    newly_delivered: list[Movement]
    newly_rated: list[Movement]
    rating_withdrawn: list[Movement]
    newly_overdue: list[Any]  # commitments annotated with their state
    updates: list[StatusUpdate]
    updates_total: int
    restatements: list[Restatement]


def changes_between(
    earlier: date,
    later: date,
    quarters: list[ReportingQuarter],
    *,
    updates_limit: int | None = 200,
    approved_by: datetime | None = None,
    population: str = DEFAULT_POPULATION,
) -> Changes:
    """Set-based: two annotated commitment queries, one of updates, two for signed-off quarters.

    With ``approved_by``, both states are those recorded then (``Period.recorded_at``: a signed-off quarter).
    Only the commitments of ``population`` are listed, as the figures beside them count.
    """
    counted = counted_commitments(Commitment.objects.all(), later, population, recorded_at=approved_by)
    states: Any = (  # annotated: the plugin cannot see the state_* and before_* names
        rules.with_state_on(
            rules.with_state_on(counted, later, approved_by=approved_by),
            earlier,
            prefix="before",
            approved_by=approved_by,
        )
        .select_related("deal")
        .order_by("reference")
    )
    moved = [
        Movement(row, row.before_status, row.before_confidence, row.state_status, row.state_confidence)
        for row in states.exclude(before_status=F("state_status"), before_confidence=F("state_confidence"))
    ]
    newly_overdue = list(
        states.filter(
            rules.overdue_condition(on=later, status="state_status", target_date="counted_target_date")
        ).exclude(rules.overdue_condition(on=earlier, status="before_status", target_date="counted_target_date"))
    )
    new_updates = (
        StatusUpdate.objects.approved()
        .filter(population_condition(population, "commitment__"), as_of__gt=earlier, as_of__lte=later)
        .select_related("commitment")
        .prefetch_related("evidence_links")
        .order_by("-as_of", "commitment__reference")
    )
    updates_total = new_updates.count()
    return Changes(
        earlier=earlier,
        later=later,
        improved=[item for item in moved if item.moved.improved],
        worsened=[item for item in moved if item.moved.worsened],
        status_changed=[item for item in moved if item.moved.status_changed],
        newly_delivered=[item for item in moved if item.moved.newly_delivered],
        newly_rated=[item for item in moved if item.moved.newly_rated],
        rating_withdrawn=[item for item in moved if item.moved.rating_withdrawn],
        newly_overdue=newly_overdue,
        # None: every update; 0 (the board pack, which lists none of them): no query for them at all.
        updates=list(new_updates[:updates_limit] if updates_limit is not None else new_updates),
        updates_total=updates_total,
        restatements=restatements_until(later, quarters, population),
    )


def restatements_until(
    day: date, quarters: list[ReportingQuarter], population: str = DEFAULT_POPULATION
) -> list[Restatement]:
    """Signed-off quarters ending by ``day`` whose figures have moved, with the updates approved after sign-off.

    The figures and updates of ``population``, as the pages beside them count.
    """
    locked = [row for row in quarters if row.is_locked and row.quarter.end <= day]
    if not locked:
        return []
    rows = QuarterMetric.objects.filter(quarter__in=locked, scope_type=ScopeType.TRACKER, population=population)
    shown = _as_shown(rows, locked=True)
    late = Q(pk__in=[])
    in_population = population_condition(population, "commitment__")
    for row in locked:
        late |= Q(as_of__range=(row.quarter.start, row.quarter.end), approved_at__gt=row.locked_at)
    backdated: dict[Quarter, list[StatusUpdate]] = defaultdict(list)
    for update in (
        StatusUpdate.objects.approved().filter(late, in_population).select_related("commitment").order_by("as_of")
    ):
        backdated[Quarter.containing(update.as_of)].append(update)
    result = []
    for row in locked:
        figures = shown.get((row.pk, ScopeType.TRACKER, TRACKER_KEY))
        if figures is not None and figures.live_in_signed_off:
            figures = None  # no signed-off figures of this population to restate
        if (figures is not None and figures.restated) or backdated.get(row.quarter):
            result.append(Restatement(row, figures, backdated.get(row.quarter, [])))
    return result


# --- funding -----------------------------------------------------------------------------------------


def counted_amounts(day: date, population: str = Population.ALL) -> FundingAmountQuerySet:
    """The amounts the money figures of ``day`` read: those of the commitments of ``population`` counted then.

    The funding overview (the tracker's stored figures of that population) sums the same amounts, so every
    money table built from these reconciles with it.
    """
    return FundingAmount.objects.filter(
        counted_on(day, prefix="commitment__"),
        population_condition(population, "commitment__"),
        commitment__isnull=False,
    )


def funding_total(day: date, population: str = Population.ALL) -> Money:
    """The money counted on ``day``, like with like: the total row of every money table (one query)."""
    return money_total(counted_amounts(day, population))


def funding_by_programme(day: date, population: str = Population.ALL) -> MoneyByProgramme:
    """The money counted on ``day`` by the programme each amount is attributed to, funds rolled up (two queries)."""
    return money_by_programme(counted_amounts(day, population))


def funding_by_funder_type(day: date, population: str = Population.ALL) -> dict[str, Money]:
    """The money counted on ``day`` by the type of its funder, each amount once (one query).

    By the funder's kind, ``programmes.totals.JOINTLY`` for amounts with joint funders, ``""`` where the text
    names no funder (``programmes.totals.money_by_funder_type``).
    """
    return money_by_funder_type(counted_amounts(day, population))

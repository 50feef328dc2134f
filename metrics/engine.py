"""Computing delivery figures, set-based, from the approved status updates.

A quarter's figures describe the state as of its last day: for each commitment, the governing approved
update on that day. Every rule counted here is written once, in ``metrics.rules``, which gives each one as
a Python function and as the expression aggregated here.
``span_rows`` turns the approved updates into delivery spans (``metrics.models.DeliverySpan``: each
governing update with the day its successor takes over), so that state is a range lookup. Two grouped
queries cover every single-valued scope type (tracker, deal, foundation, area, actor) at once, and two
more each many-valued type (theme, lead organisation, programme), whatever the number of commitments:
the commitments joined to the span covering the day and the span covering the previous quarter end
(counts, progress, spending, freshness, overdue, movement), and funding. The results are summed per
scope key, never per commitment. Every query also groups by the commitment's kind (``rules.commitment_kind``),
so the same rows give each scope's figures for both populations (``rules.Population``): the key commitments,
and everything (elaborations and sub-items included).

``contribution`` reads the same rules for one commitment: what it adds to each of its scopes. The
incremental recompute adjusts the stored rows by the change of a commitment's contribution.

Only published commitments (``Commitment.published``: visible to partners) of deals published by the day
in question count (``counted_on``), for every reader: partners read these figures through the API, so an
unpublished commitment is not in them, neither as a count nor as money. Money is summed like with like
(``programmes.totals.MONEY_AGGREGATES``): new money, restated money and targets apart, and an amount that
is ``part_of`` another of the same nature is left out so it is not counted twice. "Up to" amounts count 0
towards the low total; "over" amounts count their floor towards the high total and are counted as
open-ended.

A programme's commitments are those linked to it, but its money is the money attributed to it and to the
programmes inside it (``programmes.totals.money_under_programmes``, the rule the funding page's table
sums by): never a commitment's whole money under every programme it is linked to. So a programme scope
can have money and no commitment (a fund whose challenges hold the amounts), and a commitment's money
reaches the programmes its amounts name whether or not it is linked to them.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import date
from decimal import Decimal
from typing import Any

from django.db.models import Count, DateField, F, Max, Q, QuerySet, Sum, Value, Window
from django.db.models.functions import Coalesce, Lead, NullIf

from commitments.delivery import DeliveryConfidence, DeliveryStatus
from commitments.models import Actor, Commitment, OrganisationRole, StatusUpdate, UpdateState
from metrics import rules
from metrics.day_states import day_states
from metrics.models import ScopeType
from metrics.rules import Population, counted_on, populations_of
from programmes.models import FundingAmount, FundingAmountQuerySet
from programmes.totals import MONEY_AGGREGATES, Money, ProgrammeTree, money_under_programmes

STARTED = [DeliveryStatus.IN_PROGRESS, DeliveryStatus.DELIVERED, DeliveryStatus.NOT_BEING_PURSUED]
ZERO = Decimal(0)


@dataclass(frozen=True)
class Scope:
    """How one scope type groups commitments: the key and label paths from Commitment, and a filter."""

    scope_type: str
    key: str | None
    label: str | None
    condition: dict[str, Any] = field(default_factory=dict)
    many: bool = False  # a commitment can belong to several scopes of this type
    # The scope's money is the money attributed to it (``programmes.totals``), not its commitments' money.
    money_attributed: bool = False


SCOPES: tuple[Scope, ...] = (
    Scope(ScopeType.TRACKER, None, None),
    Scope(ScopeType.DEAL, "deal__code", "deal__title"),
    Scope(ScopeType.FOUNDATION, "foundation__code", "foundation__name"),
    Scope(ScopeType.AREA, "area__code", "area__name", {"area__isnull": False}),
    Scope(ScopeType.THEME, "themes__uuid", "themes__name", {"themes__isnull": False}, many=True),
    Scope(ScopeType.ACTOR, "actor", "actor"),
    Scope(
        ScopeType.LEAD_ORGANISATION,
        "involvements__organisation__uuid",
        "involvements__organisation__name",
        {"involvements__role": OrganisationRole.LEAD},
        many=True,
    ),
    Scope(
        ScopeType.PROGRAMME,
        "programmes__uuid",
        "programmes__name",
        {"programmes__isnull": False},
        many=True,
        money_attributed=True,
    ),
)
TRACKER_KEY = "all"


@dataclass
class Figures:
    """The figures of one scope as of one day. Field names match ``QuarterMetric``."""

    scope_type: str
    scope_key: str
    scope_label: str
    population: str = Population.ALL
    commitments: int = 0
    not_started: int = 0
    in_progress: int = 0
    delivered: int = 0
    not_being_pursued: int = 0
    green: int = 0
    amber_green: int = 0
    amber: int = 0
    amber_red: int = 0
    red: int = 0
    no_confidence: int = 0
    progress_reported: int = 0
    progress_total: int = 0
    overdue: int = 0
    stale: int = 0
    new_money_low: Decimal = ZERO
    new_money_high: Decimal = ZERO
    new_money_open_ended: int = 0
    restated_low: Decimal = ZERO
    restated_high: Decimal = ZERO
    target_low: Decimal = ZERO
    target_high: Decimal = ZERO
    spent: Decimal = ZERO
    improved: int = 0
    worsened: int = 0
    status_changed: int = 0
    newly_delivered: int = 0
    newly_rated: int = 0
    rating_withdrawn: int = 0
    updates_due: int = 0
    updates_done: int = 0
    milestones_overdue: int = 0

    def values(self) -> dict[str, Any]:
        """The figures as a dict of QuarterMetric field values."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


FIGURE_FIELDS = [
    f.name for f in fields(Figures) if f.name not in {"scope_type", "scope_key", "scope_label", "population"}
]
MONEY_FIELDS = list(Money().figures())
assert set(MONEY_FIELDS) <= set(FIGURE_FIELDS), "every money sum is stored"  # noqa: S101
# Every movement is stored, so the overview, the API and the "what changed" page count the same lists.
STORED_MOVEMENTS = rules.MOVEMENTS
#: The figures counted over a period (a quarter) rather than held on its day: no update in it, movement, and
#: the quarter's updates (due from the commitments in delivery when it began, and done).
PERIOD_FIELDS = ("stale", *STORED_MOVEMENTS, "updates_due", "updates_done")


def span_rows(commitment_ids: Collection[int] | None = None) -> QuerySet[StatusUpdate]:
    """The rows of ``DeliverySpan``: each governing approved update with the day its successor takes over.

    Of the approved updates sharing an as-of date the governing one (``rules.SAME_DAY_PRECEDENCE``) starts a
    span; it ends on the as-of date of the commitment's next approved update. Selected in ``SPAN_COLUMNS`` order.
    """
    approved = StatusUpdate.objects.filter(state=UpdateState.APPROVED)
    if commitment_ids is not None:
        approved = approved.filter(commitment_id__in=commitment_ids)
    # In SPAN_ORDER (SAME_DAY_PRECEDENCE reversed within a day) the governing update is the last of its day: the
    # next row is of a later day, whose as-of date ends its span. An update followed by one of its own day does
    # not govern. One window, so one sort of the updates (a rank within the day took a second).
    never = Value(date.max, output_field=DateField())
    return (
        approved.annotate(
            next_as_of=Window(
                # Django takes an expression as the default; its type stubs say a number.
                Lead("as_of", default=never),  # type: ignore[arg-type]
                partition_by=[F("commitment_id")],
                order_by=rules.SPAN_ORDER,
            ),
            span_ends=NullIf(F("next_as_of"), never),
            span_progress=rules.implied_progress_expression(),
        )
        .filter(next_as_of__gt=F("as_of"))
        .values_list(*SPAN_SOURCES)
        .order_by()
    )


SPAN_COLUMNS = ("commitment_id", "update_id", "starts", "ends", "status", "confidence", "progress", "spent")
SPAN_SOURCES = ("commitment_id", "pk", "as_of", "span_ends", "status", "confidence", "span_progress", "funding_spent")


# The commitment's kind (``rules.commitment_kind``), which every query below groups by as well: both
# populations are summed from the same rows, so counting the key commitments apart costs no query.
KIND = "_kind"

# By population, by scope key: the aggregates' sums (and the scope's label under ``_label``).
ByPopulation = dict[str, dict[str, dict[str, Any]]]


def _add_row(totals: dict[str, Any], row: Mapping[str, Any], names: Collection[str]) -> None:
    for name in names:
        totals[name] = totals.get(name, 0) + (row[name] or 0)


def grouped_by_scope(queryset: QuerySet[Any], scope: Scope, prefix: str, **aggregates: Any) -> ByPopulation:
    """Run the aggregates per scope key and kind, summed into each population; the tracker is a single group."""
    grouped: ByPopulation = {population: {} for population in Population.values}
    if scope.key is None:
        for row in queryset.values(KIND).annotate(**aggregates).order_by():
            for population in populations_of(row[KIND]):
                _add_row(grouped[population].setdefault(TRACKER_KEY, {"_label": None}), row, aggregates)
        return grouped
    key, label = f"{prefix}{scope.key}", f"{prefix}{scope.label}"
    condition = {f"{prefix}{lookup}": value for lookup, value in scope.condition.items()}
    rows = queryset.filter(**condition).values(key, KIND).annotate(_label=Max(label), **aggregates).order_by()
    for row in rows:
        for population in populations_of(row[KIND]):
            totals = grouped[population].setdefault(str(row[key]), {"_label": row["_label"]})
            _add_row(totals, row, aggregates)
    return grouped


def compute_figures(
    *,
    day: date,
    period_start: date,
    previous_end: date | None,
    commitment_ids: Collection[int] | None = None,
) -> list[Figures]:
    """The figures of every scope as of ``day``, read from the delivery spans.

    ``period_start`` is the first day of the period (an update on or after it makes a commitment
    fresh, not stale); ``previous_end`` is the day movement is measured from. With ``commitment_ids``,
    only the scopes those commitments belong to are returned (the figures of each are complete).
    """
    figures, _ = _compute(day=day, period_start=period_start, previous_end=previous_end, commitment_ids=commitment_ids)
    return figures


def changes_between(
    *, day: date, period_start: date, previous_end: date, among: QuerySet[Commitment]
) -> tuple[list[Figures], list[Figures]]:
    """What the commitments of ``among`` add to each scope as of ``day``, and to its levels as of ``previous_end``.

    The first list is ``compute_figures`` summed over those commitments alone; the second holds their level
    figures (statuses, ratings, progress, spending, overdue) on ``previous_end``, its period's figures left at
    zero. Money is left at zero in both. ``metrics.time_travel`` moves the stored figures by the difference.
    """
    figures, before = _compute(
        day=day, period_start=period_start, previous_end=previous_end, among=among, with_money=False, levels_before=True
    )
    return figures, before


def _compute(
    *,
    day: date,
    period_start: date,
    previous_end: date | None,
    commitment_ids: Collection[int] | None = None,
    among: QuerySet[Commitment] | None = None,
    with_money: bool = True,
    levels_before: bool = False,
) -> tuple[list[Figures], list[Figures]]:
    with day_states(day=day, period_start=period_start, previous_end=previous_end, among=among):
        return _from_day_states(
            day=day,
            previous_end=previous_end,
            commitment_ids=commitment_ids,
            with_money=with_money,
            levels_then=levels_before,
        )


def _from_day_states(
    *,
    day: date,
    previous_end: date | None,
    commitment_ids: Collection[int] | None,
    with_money: bool,
    levels_then: bool,
) -> tuple[list[Figures], list[Figures]]:
    # Each counted commitment's state on the day and at the quarter before is one narrow row (``DayState``),
    # so the passes below join that instead of the delivery spans.
    commitments = Commitment.objects.filter(day_state__isnull=False).annotate(**{KIND: F("day_state__kind")})
    funding = (
        counted_funding()
        .filter(counted_on(day, "commitment__"))
        .annotate(**{KIND: rules.commitment_kind_expression("commitment__")})
    )
    state_aggregates = _state_aggregates(previous_end)
    if levels_then and previous_end is not None:
        levels = _level_aggregates(_BEFORE)
        state_aggregates |= {f"{_THEN}{name}": value for name, value in levels.items()}
    # Every commitment is in exactly one scope of each single-valued type (tracker, deal, foundation,
    # area, actor): one query grouped by all their keys at once, summed per scope here, does for all of
    # them what GROUPING SETS would (the ORM cannot write it). Many-valued types get a query each.
    single = [scope for scope in SCOPES if not scope.many]
    states = rolled_up(commitments, single, "", state_aggregates)
    for population in Population.values:
        # The whole tracker has figures for every day, zeros before any deal was published.
        tracker = states[population][ScopeType.TRACKER]
        tracker.setdefault(TRACKER_KEY, {"_label": None} | dict.fromkeys(state_aggregates, 0))
    money = rolled_up(funding, single, "commitment__", STORED_MONEY_AGGREGATES) if with_money else _no_money(single)
    wanted: dict[str, set[str]] | None = None
    if commitment_ids is not None:
        wanted = defaultdict(set)
        for pairs in reached_scopes(commitment_ids).values():
            for scope_type, key in pairs:
                wanted[scope_type].add(key)
    results: list[Figures] = []
    before: list[Figures] = []
    for population, scope in itertools.product(Population.values, single):
        scope_states = {
            key: row
            for key, row in states[population][scope.scope_type].items()
            if wanted is None or key in wanted[scope.scope_type]
        }
        now, then = _split(scope_states)
        results.extend(assemble(scope, population, now, money[population][scope.scope_type]))
        before.extend(assemble(scope, population, then, {}))
    for scope in SCOPES:
        if not scope.many:
            continue
        if wanted is not None:
            # In the same filter() as the scope's own condition, so a many-to-many scope (themes,
            # programmes, lead organisations) is joined once and grouped by the row it was filtered on.
            scope = replace(scope, condition={**scope.condition, f"{scope.key}__in": sorted(wanted[scope.scope_type])})
        scope_states = grouped_by_scope(commitments, scope, "", **state_aggregates)
        scope_money: ByPopulation
        if not with_money:
            scope_money = {population: {} for population in Population.values}
        elif scope.money_attributed:
            scope_money = attributed_money(funding, None if wanted is None else wanted[scope.scope_type])
        else:
            scope_money = grouped_by_scope(funding, scope, "commitment__", **STORED_MONEY_AGGREGATES)
        for population in Population.values:
            now, then = _split(scope_states[population])
            results.extend(assemble(scope, population, now, scope_money[population]))
            before.extend(assemble(scope, population, then, {}))
    return results, before


# The paths from a commitment to its state on the day and at the quarter before (``DayState``), and the
# prefix of the aggregates that sum the levels at the quarter before (``changes_between``).
_NOW, _BEFORE, _THEN = "day_state__", "day_state__before_", "_then_"


def _split(states: dict[str, dict[str, Any]]) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """Each scope's sums as of the day, and its level sums at the quarter before (``_THEN``), by key."""
    now: dict[str, dict[str, Any]] = {}
    then: dict[str, dict[str, Any]] = {}
    for key, row in states.items():
        now[key] = {name: value for name, value in row.items() if not name.startswith(_THEN)}
        levels = {name.removeprefix(_THEN): value for name, value in row.items() if name.startswith(_THEN)}
        if levels:
            then[key] = {"_label": row.get("_label"), "total": row.get("total") or 0, "fresh": 0, **levels}
    return now, then


def _no_money(scopes: list[Scope]) -> dict[str, dict[str, dict[str, dict[str, Any]]]]:
    return {population: {scope.scope_type: {} for scope in scopes} for population in Population.values}


def attributed_money(funding: FundingAmountQuerySet, keys: Collection[str] | None) -> ByPopulation:
    """The money of each programme scope (of ``keys``, if given): attributed to it or a programme inside it."""
    tree = ProgrammeTree.load()
    by_population: dict[str, dict[int, Money]] = {population: defaultdict(Money) for population in Population.values}
    for kind, under in money_under_programmes(funding, per=KIND, tree=tree).items():
        for population, (pk, money) in itertools.product(populations_of(kind), under.items()):
            by_population[population][pk] += money
    return {
        population: {
            tree.uuid[pk]: {"_label": tree.name[pk], **money.figures()}
            for pk, money in under.items()
            if keys is None or tree.uuid[pk] in keys
        }
        for population, under in by_population.items()
    }


def rolled_up(
    queryset: QuerySet[Any], scopes: list[Scope], prefix: str, aggregates: dict[str, Any]
) -> dict[str, dict[str, dict[str, dict[str, Any]]]]:
    """Group once by the keys of every (single-valued) scope type and the kind, then sum per population and key."""
    paths = {f"{prefix}{path}" for scope in scopes for path in (scope.key, scope.label) if path}
    rows = queryset.values(*sorted(paths), KIND).annotate(**aggregates).order_by()
    rolled: dict[str, dict[str, dict[str, dict[str, Any]]]] = {
        population: {scope.scope_type: {} for scope in scopes} for population in Population.values
    }
    for row in rows:
        for population, scope in itertools.product(populations_of(row[KIND]), scopes):
            key = TRACKER_KEY if scope.key is None else row[f"{prefix}{scope.key}"]
            if key is None:  # outside the scope type (a commitment with no area)
                continue
            label = row[f"{prefix}{scope.label}"] if scope.label else None
            _add_row(rolled[population][scope.scope_type].setdefault(str(key), {"_label": label}), row, aggregates)
    return rolled


def _state_aggregates(previous_end: date | None) -> dict[str, Any]:
    """The sums of each scope's state on the day, over ``DayState`` (where each rule is decided, 0 or 1)."""
    aggregates: dict[str, Any] = {
        "total": Count("pk"),
        **_level_aggregates(_NOW),
        "fresh": Sum(f"{_NOW}fresh"),
        "updates_due": Sum(f"{_NOW}due"),
        # Done: due, and fresh in the period (``rules.is_stale`` false).
        "updates_done": Count("pk", filter=Q(**{f"{_NOW}due": 1, f"{_NOW}fresh": 1})),
    }
    if previous_end is not None:
        aggregates |= {name: Sum(f"{_NOW}{name}") for name in STORED_MOVEMENTS}
    return aggregates


def _level_aggregates(path: str) -> dict[str, Any]:
    """The figures held by the state at ``path`` (``day_state__``, or ``day_state__before_`` for the day before)."""
    return {
        **{status: Count("pk", filter=Q(**{f"{path}status": status})) for status in STARTED},
        **{value: Count("pk", filter=Q(**{f"{path}confidence": value})) for value in DeliveryConfidence.values},
        "progress_reported": Count("pk", filter=rules.progress_reported_condition(f"{path}progress")),
        "progress_total": Coalesce(Sum(f"{path}progress"), 0),
        "overdue": Sum(f"{path}overdue"),
        "milestones_overdue": Sum(f"{path}milestones_overdue"),
        "spent": Coalesce(Sum(f"{path}spent"), Value(ZERO)),
    }


def assemble(
    scope: Scope, population: str, states: dict[str, dict[str, Any]], money: dict[str, dict[str, Any]]
) -> list[Figures]:
    """The figures of each scope of one type and population, from its summed states and its money, by key.

    ``states`` holds the state aggregates' sums and ``_label`` by scope key; ``money`` the money sums.
    """
    if scope.money_attributed:
        # A programme with money attributed to it and no commitment of its own that counts has its row too
        # (as on the funding page), with no commitments.
        alone = {
            key: {"_label": row.get("_label"), "total": 0, "fresh": 0}
            for key, row in money.items()
            if key not in states and has_money(row)
        }
        states = alone | states
    figures = []
    for key, grouped in states.items():
        state = dict(grouped)
        label = state.pop("_label", None) or ("All commitments" if scope.key is None else key)
        if scope.scope_type == ScopeType.ACTOR:
            label = Actor(key).label
        count = state.pop("total") or 0
        fresh = state.pop("fresh") or 0
        item = Figures(scope.scope_type, key, label, population, commitments=count, stale=count - fresh)
        for name, value in state.items():
            setattr(item, name, value or 0)
        item.spent = Decimal(item.spent)
        item.not_started = count - sum(getattr(item, status) for status in STARTED)
        item.no_confidence = count - sum(getattr(item, value) for value in DeliveryConfidence.values)
        for name, value in money.get(key, {}).items():
            if name != "_label":
                setattr(item, name, value if name == "new_money_open_ended" else Decimal(value or 0))
        figures.append(item)
    return figures


def has_money(figures: Mapping[str, Any]) -> bool:
    """Whether any money figure of ``figures`` (a row or a contribution) is not zero."""
    return any(figures.get(name) for name in MONEY_FIELDS)


def counted_funding() -> FundingAmountQuerySet:
    """Commitments' amounts the totals count (``FundingAmountQuerySet.counted_in_totals``)."""
    return FundingAmount.objects.filter(commitment__isnull=False).counted_in_totals()


# The money sums every total makes (``programmes.totals``), those the stored figures keep.
STORED_MONEY_AGGREGATES: dict[str, Any] = {
    name: value for name, value in MONEY_AGGREGATES.items() if name in MONEY_FIELDS
}


# --- one commitment at a time: what the incremental recompute adds and takes away ------------------------


@dataclass(frozen=True)
class Span:
    """A delivery span as the incremental recompute reads it (see ``metrics.models.DeliverySpan``)."""

    starts: date
    ends: date | None
    status: str
    confidence: str
    progress: int | None
    spent: Decimal | None

    def covers(self, day: date) -> bool:
        """Whether this span sets the state as of ``day`` (``rules.span_covers``)."""
        return rules.span_covers(self.starts, self.ends, day)


def contribution(
    spans: Collection[Span],
    *,
    day: date,
    period_start: date,
    previous_end: date | None,
    target_date: date | None,
    counted: bool,
    milestones: Collection[tuple[date, date | None]] = (),
) -> dict[str, Any]:
    """What one commitment's delivery adds to the figures of each of its scopes as of ``day``, by ``FIGURE_FIELDS``.

    The same rules as ``compute_figures`` applies set-based, read for a single commitment: summing this
    over a scope's commitments gives the scope's figures but money (``scope_contributions`` adds it).
    ``counted`` says whether the commitment counts on ``day`` (``counts``: it is published and its deal
    was published by then); ``milestones`` are its milestones' due and done days. The money figures are
    left at zero.
    """
    figures: dict[str, Any] = dict.fromkeys(FIGURE_FIELDS, 0)
    if not counted:
        return figures
    now = next((span for span in spans if span.covers(day)), None)
    status = now.status if now else DeliveryStatus.NOT_STARTED
    figures["commitments"] = 1
    figures[status] = 1
    figures[(now.confidence if now else "") or "no_confidence"] = 1
    if now and rules.reports_progress(now.progress):
        figures["progress_reported"], figures["progress_total"] = 1, now.progress
    figures["overdue"] = int(rules.is_overdue(target_date=target_date, status=status, day=day))
    figures["stale"] = int(rules.is_stale(state_as_of=now.starts if now else None, period_start=period_start))
    figures["spent"] = (now.spent if now else None) or ZERO
    figures["milestones_overdue"] = sum(
        rules.is_milestone_overdue(due_on=due_on, done_on=done_on, day=day) for due_on, done_on in milestones
    )
    # Nothing before the first period: an update is due from every commitment.
    before = next((span for span in spans if span.covers(previous_end)), None) if previous_end is not None else None
    due = previous_end is None or rules.is_update_due(status_before=before.status if before else None)
    figures["updates_due"] = int(due)
    figures["updates_done"] = int(due and not figures["stale"])
    if previous_end is not None:
        moved = rules.movement(
            status_before=before.status if before else DeliveryStatus.NOT_STARTED,
            confidence_before=before.confidence if before else "",
            status_after=status,
            confidence_after=now.confidence if now else "",
        )
        for name in STORED_MOVEMENTS:
            figures[name] = int(getattr(moved, name))
    return figures


@dataclass(frozen=True)
class MoneyContribution:
    """What one commitment's counted amounts add to the money figures of its scopes, whenever it counts.

    ``whole`` goes to every scope it belongs to but programmes; ``programmes`` holds, by programme scope
    key, the money attributed to that programme or one inside it (``programmes.totals``), which goes to
    that programme's scope whether or not the commitment is linked to it.
    """

    whole: Mapping[str, Any] = field(default_factory=dict)
    programmes: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """As a marker stores it (``RecomputeMarker.before``): decimals as strings."""
        return {
            "money": {name: str(value) for name, value in self.whole.items()},
            "programme_money": {
                key: {name: str(value) for name, value in money.items()} for key, money in self.programmes.items()
            },
        }

    @classmethod
    def from_json(cls, stored: Mapping[str, Any]) -> MoneyContribution:
        """Read back what ``to_json`` wrote."""

        def read(money: Mapping[str, Any]) -> dict[str, Any]:
            return {
                name: int(value) if name == "new_money_open_ended" else Decimal(value) for name, value in money.items()
            }

        programmes = stored.get("programme_money") or {}
        return cls(read(stored.get("money") or {}), {key: read(money) for key, money in programmes.items()})


def money_contributions(commitment_ids: Collection[int]) -> dict[int, MoneyContribution]:
    """What each commitment adds to the money figures of its scopes whenever it counts, by commitment id.

    Two grouped queries and the programmes, whatever the number of commitments; a commitment with no
    counted amounts is left out.
    """
    amounts = counted_funding().filter(commitment_id__in=commitment_ids)
    rows = amounts.values("commitment_id").annotate(**STORED_MONEY_AGGREGATES).order_by()
    whole = {row.pop("commitment_id"): Money.from_row(row).figures() for row in rows}
    tree = ProgrammeTree.load()
    attributed = money_under_programmes(amounts, per="commitment_id", tree=tree)
    return {
        pk: MoneyContribution(
            money,
            {tree.uuid[programme]: under.figures() for programme, under in attributed.get(pk, {}).items()},
        )
        for pk, money in whole.items()
    }


def scope_contributions(
    delivery: Mapping[str, Any],
    money: MoneyContribution | None,
    *,
    counted: bool,
    keys: Collection[tuple[str, str]],
) -> dict[tuple[str, str], dict[str, Any]]:
    """What one commitment adds to each scope its figures reach, by (scope type, scope key).

    ``delivery`` (``contribution``) goes to the scopes it belongs to (``keys``, ``scope_keys``); when it
    counts, its money goes with it to each of those but programmes, and to each programme the money
    attributed under that programme (``MoneyContribution``).
    """
    reached: dict[tuple[str, str], dict[str, Any]] = {}
    for scope_type, key in keys:
        figures = dict(delivery)
        if counted and money and scope_type != ScopeType.PROGRAMME:
            figures.update(money.whole)
        reached[(scope_type, key)] = figures
    if counted and money:
        for key, attributed in money.programmes.items():
            figures = reached.setdefault((ScopeType.PROGRAMME, key), dict.fromkeys(FIGURE_FIELDS, 0))
            figures.update(attributed)
    return reached


def scope_keys(commitment_ids: Collection[int]) -> dict[int, list[tuple[str, str]]]:
    """The (scope type, scope key) pairs each commitment belongs to, by commitment id, whether it counts or not."""
    keys: dict[int, list[tuple[str, str]]] = {pk: [] for pk in commitment_ids}
    single = [(scope, scope.key) for scope in SCOPES if scope.key is not None and not scope.many]
    rows = Commitment.objects.filter(pk__in=commitment_ids).order_by()
    for pk, *values in rows.values_list("pk", *(key for _, key in single)):
        keys[pk].append((ScopeType.TRACKER, TRACKER_KEY))
        # A key is None only where the scope's condition excludes the commitment (no area).
        keys[pk] += [(scope.scope_type, str(value)) for (scope, _), value in zip(single, values, strict=True) if value]
    for scope in SCOPES:
        if scope.many and scope.key is not None:
            rows = Commitment.objects.filter(pk__in=commitment_ids, **scope.condition).order_by()
            for pk, key in rows.values_list("pk", scope.key).distinct():
                keys[pk].append((scope.scope_type, str(key)))
    return keys


def reached_scopes(commitment_ids: Collection[int]) -> dict[int, list[tuple[str, str]]]:
    """Every scope whose figures each commitment can move, by commitment id.

    The scopes it belongs to (``scope_keys``) and the programmes its counted amounts are attributed under.
    """
    keys = scope_keys(commitment_ids)
    for pk, money in money_contributions(commitment_ids).items():
        keys[pk] += [
            (ScopeType.PROGRAMME, key) for key in money.programmes if (ScopeType.PROGRAMME, key) not in keys[pk]
        ]
    return keys

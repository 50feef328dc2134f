"""Computing delivery figures, set-based, from the approved status updates.

A quarter's figures describe the state as of its last day: for each commitment, the latest approved
update with an as-of date on or before that day (``commitments.models.LATEST_FIRST`` breaks ties).
Per scope type there are four grouped queries, whatever the number of commitments: commitments
(totals, targets passed), latest updates (status, confidence, progress, spending, freshness), movement
against the previous quarter end, and funding. The results are merged per scope key, never per
commitment.

Only commitments of deals published by the day in question count. Money is summed like with like:
new money, restated money and targets apart, and an amount that is ``part_of`` another of the same
nature is left out so it is not counted twice. "Up to" amounts count 0 towards the low total; "over"
amounts count their floor towards the high total and are counted as open-ended.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from dataclasses import dataclass, field, fields, replace
from datetime import date
from decimal import Decimal
from typing import Any

from django.db.models import (
    Case,
    Count,
    F,
    IntegerField,
    Max,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
    Window,
)
from django.db.models.functions import Coalesce, RowNumber

from commitments.delivery import DeliveryConfidence, DeliveryStatus
from commitments.models import LATEST_FIRST, Actor, Commitment, OrganisationRole, StatusUpdate, UpdateState
from metrics.models import ScopeType
from programmes.models import AmountNature, FundingAmount

_STATUS_RANK = {
    DeliveryStatus.NOT_BEING_PURSUED: -1,
    DeliveryStatus.NOT_STARTED: 0,
    DeliveryStatus.IN_PROGRESS: 1,
    DeliveryStatus.DELIVERED: 2,
}
_CONFIDENCE_RANK = {
    DeliveryConfidence.RED: 1,
    DeliveryConfidence.AMBER_RED: 2,
    DeliveryConfidence.AMBER: 3,
    DeliveryConfidence.AMBER_GREEN: 4,
    DeliveryConfidence.GREEN: 5,
}
_IMPLIED_PROGRESS = {DeliveryStatus.DELIVERED: 100, DeliveryStatus.NOT_STARTED: 0}
_FINISHED = [DeliveryStatus.DELIVERED, DeliveryStatus.NOT_BEING_PURSUED]
ZERO = Decimal(0)


@dataclass(frozen=True)
class Scope:
    """How one scope type groups commitments: the key and label paths from Commitment, and a filter."""

    scope_type: str
    key: str | None
    label: str | None
    condition: dict[str, Any] = field(default_factory=dict)


SCOPES: tuple[Scope, ...] = (
    Scope(ScopeType.TRACKER, None, None),
    Scope(ScopeType.DEAL, "deal__code", "deal__title"),
    Scope(ScopeType.FOUNDATION, "foundation__code", "foundation__name"),
    Scope(ScopeType.AREA, "area__code", "area__name", {"area__isnull": False}),
    Scope(ScopeType.THEME, "themes__uuid", "themes__name", {"themes__isnull": False}),
    Scope(ScopeType.ACTOR, "actor", "actor"),
    Scope(
        ScopeType.LEAD_ORGANISATION,
        "involvements__organisation__uuid",
        "involvements__organisation__name",
        {"involvements__role": OrganisationRole.LEAD},
    ),
    Scope(ScopeType.PROGRAMME, "programmes__uuid", "programmes__name", {"programmes__isnull": False}),
)
TRACKER_KEY = "all"


@dataclass
class Figures:
    """The figures of one scope as of one day. Field names match ``QuarterMetric``."""

    scope_type: str
    scope_key: str
    scope_label: str
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

    def values(self) -> dict[str, Any]:
        """The figures as a dict of QuarterMetric field values."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


FIGURE_FIELDS = [f.name for f in fields(Figures) if f.name not in {"scope_type", "scope_key", "scope_label"}]


def latest_approved(day: date) -> QuerySet[StatusUpdate]:
    """The approved update that sets each commitment's state as of ``day`` (one per commitment at most)."""
    ranked = (
        StatusUpdate.objects.filter(state=UpdateState.APPROVED, as_of__lte=day)
        .annotate(rank=Window(RowNumber(), partition_by=[F("commitment_id")], order_by=list(_order(LATEST_FIRST))))
        .filter(rank=1)
        .values("pk")
    )
    return StatusUpdate.objects.filter(pk__in=ranked)


def _order(spec: tuple[Any, ...]) -> Iterator[Any]:
    for item in spec:
        if isinstance(item, str):
            yield F(item[1:]).desc() if item.startswith("-") else F(item).asc()
        else:
            yield item


def _rank(expression: str, ranks: dict[Any, int]) -> Case:
    return Case(
        *(When(**{expression: value}, then=Value(rank)) for value, rank in ranks.items()), output_field=IntegerField()
    )


def _grouped(queryset: QuerySet[Any], scope: Scope, prefix: str, **aggregates: Any) -> dict[str, dict[str, Any]]:
    """Run the aggregates per scope key; the tracker scope is a single group."""
    if scope.key is None:
        return {TRACKER_KEY: queryset.aggregate(**aggregates)}
    key, label = f"{prefix}{scope.key}", f"{prefix}{scope.label}"
    condition = {f"{prefix}{lookup}": value for lookup, value in scope.condition.items()}
    rows = queryset.filter(**condition).values(key).annotate(_label=Max(label), **aggregates).order_by()
    return {str(row.pop(key)): row for row in rows}


def compute_figures(
    *,
    day: date,
    period_start: date,
    previous_end: date | None,
    commitment_ids: Collection[int] | None = None,
) -> list[Figures]:
    """The figures of every scope as of ``day``.

    ``period_start`` is the first day of the period (an update on or after it makes a commitment
    fresh, not stale); ``previous_end`` is the day movement is measured from. With ``commitment_ids``,
    only the scopes those commitments belong to are computed (the figures of each are complete).
    """
    commitments = Commitment.objects.filter(deal__published_on__lte=day)
    latest = latest_approved(day).filter(commitment__deal__published_on__lte=day)
    funding = FundingAmount.objects.filter(commitment__isnull=False, commitment__deal__published_on__lte=day).exclude(
        part_of__isnull=False, part_of__nature=F("nature")
    )
    results: list[Figures] = []
    for scope in SCOPES:
        keys = _keys_of(scope, commitment_ids)
        if keys is not None:
            # In the same filter() as the scope's own condition, so a many-to-many scope (themes,
            # programmes, lead organisations) is joined once and grouped by the row it was filtered on.
            scope = replace(scope, condition={**scope.condition, f"{scope.key}__in": keys})
        results.extend(_scope_figures(scope, day, period_start, previous_end, commitments, latest, funding))
    return results


def _keys_of(scope: Scope, commitment_ids: Collection[int] | None) -> list[Any] | None:
    if commitment_ids is None or scope.key is None:
        return None
    rows = Commitment.objects.filter(pk__in=commitment_ids, **scope.condition).values_list(scope.key, flat=True)
    return list(set(rows))


def _scope_figures(
    scope: Scope,
    day: date,
    period_start: date,
    previous_end: date | None,
    commitments: QuerySet[Commitment],
    latest: QuerySet[StatusUpdate],
    funding: QuerySet[FundingAmount],
) -> list[Figures]:
    totals = _grouped(
        commitments,
        scope,
        "",
        total=Count("pk"),
        target_passed=Count("pk", filter=Q(target_date__lt=day)),
    )
    implied_progress = Case(
        When(progress__isnull=False, then=F("progress")),
        *(When(status=status, then=Value(value)) for status, value in _IMPLIED_PROGRESS.items()),
        default=None,
        output_field=IntegerField(),
    )
    states = _grouped(
        latest,
        scope,
        "commitment__",
        in_progress=Count("pk", filter=Q(status=DeliveryStatus.IN_PROGRESS)),
        delivered=Count("pk", filter=Q(status=DeliveryStatus.DELIVERED)),
        not_being_pursued=Count("pk", filter=Q(status=DeliveryStatus.NOT_BEING_PURSUED)),
        **{value: Count("pk", filter=Q(confidence=value)) for value in DeliveryConfidence.values},
        progress_reported=Count(implied_progress),
        progress_total=Coalesce(Sum(implied_progress), 0),
        fresh=Count("pk", filter=Q(as_of__gte=period_start)),
        finished_target_passed=Count("pk", filter=Q(commitment__target_date__lt=day, status__in=_FINISHED)),
        spent=Coalesce(Sum("funding_spent"), Value(ZERO)),
    )
    movement = _movement(scope, latest, period_start, previous_end)
    money = _grouped(
        funding,
        scope,
        "commitment__",
        **_money_aggregates(AmountNature.NEW_MONEY, "new_money"),
        new_money_open_ended=Count("pk", filter=Q(nature=AmountNature.NEW_MONEY, high__isnull=True)),
        **_money_aggregates(AmountNature.RESTATED, "restated"),
        **_money_aggregates(AmountNature.TARGET, "target"),
    )
    figures = []
    for key, total in totals.items():
        label = total.get("_label") or ("All commitments" if scope.key is None else key)
        if scope.scope_type == ScopeType.ACTOR:
            label = Actor(key).label
        state = states.get(key, {})
        count = total["total"] or 0
        started = sum(state.get(name, 0) or 0 for name in ("in_progress", "delivered", "not_being_pursued"))
        rated = sum(state.get(value, 0) or 0 for value in DeliveryConfidence.values)
        item = Figures(scope.scope_type, key, label, commitments=count)
        item.in_progress = state.get("in_progress", 0) or 0
        item.delivered = state.get("delivered", 0) or 0
        item.not_being_pursued = state.get("not_being_pursued", 0) or 0
        item.not_started = count - started
        for value in DeliveryConfidence.values:
            setattr(item, value, state.get(value, 0) or 0)
        item.no_confidence = count - rated
        item.progress_reported = state.get("progress_reported", 0) or 0
        item.progress_total = state.get("progress_total", 0) or 0
        item.overdue = (total["target_passed"] or 0) - (state.get("finished_target_passed", 0) or 0)
        item.stale = count - (state.get("fresh", 0) or 0)
        item.spent = Decimal(state.get("spent") or 0)
        for name, value in movement.get(key, {}).items():
            if name != "_label":
                setattr(item, name, value or 0)
        for name, value in money.get(key, {}).items():
            if name != "_label":
                setattr(item, name, value if name == "new_money_open_ended" else Decimal(value or 0))
        figures.append(item)
    return figures


def _money_aggregates(nature: str, name: str) -> dict[str, Any]:
    of_nature = Q(nature=nature)
    return {
        f"{name}_low": Coalesce(Sum(Coalesce("low", Value(ZERO)), filter=of_nature), Value(ZERO)),
        f"{name}_high": Coalesce(Sum(Coalesce("high", "low"), filter=of_nature), Value(ZERO)),
    }


def _movement(
    scope: Scope, latest: QuerySet[StatusUpdate], period_start: date, previous_end: date | None
) -> dict[str, dict[str, Any]]:
    """Commitments whose state moved since ``previous_end``: only those updated in the period can have."""
    if previous_end is None:
        return {}
    before = StatusUpdate.objects.filter(
        commitment_id=OuterRef("commitment_id"), state=UpdateState.APPROVED, as_of__lte=previous_end
    ).order_by(*LATEST_FIRST)
    moved = (
        latest.filter(as_of__gt=previous_end)
        .annotate(
            previous_status=Coalesce(Subquery(before.values("status")[:1]), Value(DeliveryStatus.NOT_STARTED.value)),
            previous_confidence=Coalesce(Subquery(before.values("confidence")[:1]), Value("")),
        )
        .annotate(
            status_rank=_rank("status", _STATUS_RANK),
            previous_status_rank=_rank("previous_status", _STATUS_RANK),
            confidence_rank=_rank("confidence", _CONFIDENCE_RANK),
            previous_confidence_rank=_rank("previous_confidence", _CONFIDENCE_RANK),
        )
    )
    same_status = Q(status_rank=F("previous_status_rank"))
    return _grouped(
        moved,
        scope,
        "commitment__",
        improved=Count(
            "pk",
            filter=Q(status_rank__gt=F("previous_status_rank"))
            | (same_status & Q(confidence_rank__gt=F("previous_confidence_rank"))),
        ),
        worsened=Count(
            "pk",
            filter=Q(status_rank__lt=F("previous_status_rank"))
            | (same_status & Q(confidence_rank__lt=F("previous_confidence_rank"))),
        ),
        status_changed=Count("pk", filter=~same_status),
    )

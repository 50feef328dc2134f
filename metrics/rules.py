"""Every delivery rule, written once: what one commitment is, and the same rule as the database aggregates it.

The board decides on these numbers, so each must mean the same on every page, in the board pack, in the
API and in the stored figures. Each rule below comes as a pair, side by side: the Python function that
decides it for one commitment, and the ORM expression the engine (``metrics.engine``), the pages
(``metrics.dashboards``) and the API count with. ``tests/test_rules.py`` checks, for random histories on
SQLite and PostgreSQL, that the two sides of every pair agree; docs/metrics.md states the rules in words.

Nothing in ``commitments`` or ``programmes`` imports this module (the apps are layered metrics ->
programmes -> commitments -> lsis): where those apps must act on a rule, metrics registers itself with
them (``commitments.hooks``, the admin's filters in ``metrics.admin``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.db import models
from django.db.models import (
    Case,
    Exists,
    F,
    FilteredRelation,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    TextField,
    Value,
    When,
)
from django.db.models.functions import Coalesce

from commitments.delivery import DeliveryConfidence, DeliveryStatus
from commitments.models import (
    LATEST_FIRST,
    Commitment,
    CommitmentQuerySet,
    Milestone,
    Section,
    StatusUpdate,
    UpdateState,
)

# --- the governing approved update on a day ----------------------------------------------------------------
#
# A commitment's delivery state on a day is the one its governing update gives: of its approved updates
# as of that day or earlier, the one with the latest as-of date; of those sharing it, the latest approved;
# of those, the latest written (``LATEST_FIRST``). Without one, the commitment is not started, unrated,
# with no progress figure.


def governing_key(update: StatusUpdate) -> tuple[date, Any, int]:
    """Python: the sort key of ``LATEST_FIRST``, ascending (the greatest governs)."""
    approved_at = update.approved_at
    # An approved update always has its time (a database constraint); a missing one would sort first.
    return (update.as_of, (approved_at is not None, approved_at.timestamp() if approved_at else 0), update.pk)


def governing_update(
    updates: Iterable[StatusUpdate], day: date | None, *, approved_by: datetime | None = None
) -> StatusUpdate | None:
    """Python: the approved update of ``updates`` that sets the state on ``day`` (``None``: now), or None.

    ``approved_by``: the state as it was recorded at that moment, from the updates approved by then (a
    signed-off quarter's lists are read so: an update approved after sign-off is a restatement).
    """
    candidates = [
        update
        for update in updates
        if update.state == UpdateState.APPROVED
        and (day is None or update.as_of <= day)
        and (approved_by is None or (update.approved_at is not None and update.approved_at <= approved_by))
    ]
    return max(candidates, key=governing_key, default=None)


def governing_updates(
    day: date | None, *, commitment: Any = None, approved_by: datetime | None = None
) -> QuerySet[StatusUpdate]:
    """ORM: approved updates as of ``day`` or earlier (and approved by ``approved_by``), the governing one first.

    ``commitment`` is what to match ``commitment`` against (an id, or ``OuterRef("pk")`` in a subquery).
    """
    updates = StatusUpdate.objects.filter(state=UpdateState.APPROVED)
    if commitment is not None:
        updates = updates.filter(commitment=commitment)
    if day is not None:
        updates = updates.filter(as_of__lte=day)
    if approved_by is not None:
        updates = updates.filter(approved_at__lte=approved_by)
    return updates.order_by(*LATEST_FIRST)


# The same rule read over delivery spans (``metrics.models.DeliverySpan``): of the updates sharing an as-of
# date the first in SAME_DAY_PRECEDENCE governs; in SPAN_ORDER, the next row's as-of date ends its span.
SAME_DAY_PRECEDENCE = [F("approved_at").desc(nulls_last=True), F("pk").desc()]
SPAN_ORDER = [F("as_of").asc(), F("approved_at").asc(nulls_first=True), F("pk").asc()]


def span_covers(starts: date, ends: date | None, day: date) -> bool:
    """Python: whether the span from ``starts`` (its update's as-of date) to ``ends`` sets the state on ``day``."""
    return starts <= day and (ends is None or day < ends)


def covering_span(day: date) -> FilteredRelation:
    """ORM: a commitment's delivery span covering ``day`` (``span_covers``), joined as a relation."""
    return FilteredRelation(
        "delivery_spans",
        condition=Q(delivery_spans__starts__lte=day)
        & (Q(delivery_spans__ends__gt=day) | Q(delivery_spans__ends__isnull=True)),
    )


def state_may_change(*, after: date, until: date) -> Q:
    """ORM, over commitments: the span covering ``until`` may not be the one covering ``after`` (``span_covers``).

    Only a span starting after ``after`` and by ``until`` can take over; time travel recomputes just these.
    """
    changing = Commitment.objects.filter(delivery_spans__starts__gt=after, delivery_spans__starts__lte=until)
    return Q(pk__in=changing.values("pk"))


# --- implied progress ---------------------------------------------------------------------------------------

#: An update without a progress figure implies one only where its status does.
IMPLIED_PROGRESS: dict[str, int] = {DeliveryStatus.DELIVERED: 100, DeliveryStatus.NOT_STARTED: 0}


def implied_progress(status: str, progress: int | None) -> int | None:
    """Python: the progress an update reports: its figure, else 100 if delivered, 0 if not started, else none."""
    return progress if progress is not None else IMPLIED_PROGRESS.get(status)


def implied_progress_expression(status: str = "status", progress: str = "progress") -> Case:
    """ORM: ``implied_progress`` of the columns ``status`` and ``progress``."""
    return Case(
        When(**{f"{progress}__isnull": False}, then=F(progress)),
        *(When(**{status: value}, then=Value(figure)) for value, figure in IMPLIED_PROGRESS.items()),
        default=None,
        output_field=IntegerField(),
    )


# --- the delivery state -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeliveryState:
    """A commitment's delivery state on a day: what its governing update gives it."""

    status: str
    confidence: str
    progress: int | None
    as_of: date | None

    def __str__(self) -> str:
        confidence = DeliveryConfidence(self.confidence).label if self.confidence else "no confidence rating"
        progress = f"{self.progress}%" if self.progress is not None else "progress not reported"
        as_of = f"as of {self.as_of:%d %b %Y}" if self.as_of else "no approved update"
        return f"{DeliveryStatus(self.status).label}, {confidence}, {progress}, {as_of}"

    def get_status_display(self) -> str:
        """The status's label, as a model field's display."""
        return str(DeliveryStatus(self.status).label)

    def get_confidence_display(self) -> str:
        """The confidence's label, or empty when unrated."""
        return str(DeliveryConfidence(self.confidence).label) if self.confidence else ""


NO_UPDATE_STATE = DeliveryState(status=DeliveryStatus.NOT_STARTED, confidence="", progress=None, as_of=None)


def state_from_update(update: StatusUpdate | None) -> DeliveryState:
    """Python: the delivery state a governing update gives its commitment (``NO_UPDATE_STATE`` for None)."""
    if update is None:
        return NO_UPDATE_STATE
    return DeliveryState(
        status=update.status,
        confidence=update.confidence,
        progress=implied_progress(update.status, update.progress),
        as_of=update.as_of,
    )


def stored_delivery_state(commitment: Commitment) -> DeliveryState:
    """The delivery state as stored on the commitment (kept equal to the state now by the approval hook)."""
    return DeliveryState(
        status=commitment.delivery_status,
        confidence=commitment.delivery_confidence,
        progress=commitment.progress,
        as_of=commitment.delivery_as_of,
    )


def derive_delivery_state(*, commitment_id: int, day: date | None = None) -> DeliveryState:
    """The state the approved updates of a commitment give it on ``day`` (``None``: now), in one query."""
    return state_from_update(governing_updates(day, commitment=commitment_id).first())


def with_state_on(
    commitments: CommitmentQuerySet, day: date | None, *, prefix: str = "state", approved_by: datetime | None = None
) -> CommitmentQuerySet:
    """ORM: annotate each commitment's delivery state on ``day`` (``None``: now).

    Adds ``<prefix>_status``, ``_confidence``, ``_progress`` (implied, as ``state_from_update`` reads it)
    and ``_as_of`` (the governing update's as-of date). Now is the stored state, which the approval hook
    keeps equal to the derived one (``verify_delivery_state`` checks); an earlier day reads the governing
    update as of then, and without one the commitment is not started. With ``approved_by``, the state as
    recorded at that moment (``governing_update``), always derived from the updates.
    """
    if day is None and approved_by is None:
        return commitments.annotate(
            **{
                f"{prefix}_status": F("delivery_status"),
                f"{prefix}_confidence": F("delivery_confidence"),
                f"{prefix}_progress": F("progress"),
                f"{prefix}_as_of": F("delivery_as_of"),
            }
        )
    latest = governing_updates(day, commitment=OuterRef("pk"), approved_by=approved_by).annotate(
        implied=implied_progress_expression()
    )
    return commitments.annotate(
        **{
            f"{prefix}_status": Coalesce(
                Subquery(latest.values("status")[:1]), Value(DeliveryStatus.NOT_STARTED.value)
            ),
            f"{prefix}_confidence": Coalesce(Subquery(latest.values("confidence")[:1]), Value("")),
            f"{prefix}_progress": Subquery(latest.values("implied")[:1]),
            f"{prefix}_as_of": Subquery(latest.values("as_of")[:1]),
        }
    )


@dataclass(frozen=True)
class StateMismatch:
    """A commitment whose stored delivery state differs from the one its approved updates give."""

    commitment_id: int
    reference: str
    stored: DeliveryState
    derived: DeliveryState


def delivery_state_mismatches() -> list[StateMismatch]:
    """Every commitment whose stored state is not the derived one, in two queries whatever the count."""
    latest_by_commitment: dict[int, StatusUpdate] = {}
    # Ordered so that the first approved update seen for a commitment is the one that governs.
    for update in StatusUpdate.objects.filter(state=UpdateState.APPROVED).order_by("commitment_id", *LATEST_FIRST):
        latest_by_commitment.setdefault(update.commitment_id, update)
    mismatches = []
    for commitment in Commitment.objects.only(
        "pk", "reference", "delivery_status", "delivery_confidence", "progress", "delivery_as_of"
    ):
        derived = state_from_update(latest_by_commitment.get(commitment.pk))
        stored = stored_delivery_state(commitment)
        if stored != derived:
            mismatches.append(StateMismatch(commitment.pk, commitment.reference, stored, derived))
    return mismatches


# --- overdue ------------------------------------------------------------------------------------------------

#: Statuses in which a commitment can no longer be overdue: met, or withdrawn.
FINISHED = (DeliveryStatus.DELIVERED, DeliveryStatus.NOT_BEING_PURSUED)
UNFINISHED = (DeliveryStatus.NOT_STARTED, DeliveryStatus.IN_PROGRESS)


def is_overdue(*, target_date: date | None, status: str, day: date) -> bool:
    """Python: overdue on ``day``: its target date has passed, and it is neither delivered nor withdrawn."""
    return target_date is not None and target_date < day and status not in FINISHED


def overdue_condition(
    *, on: date, status: str = "delivery_status", target_date: str = "target_date", no_state: Q | None = None
) -> Q:
    """ORM: ``is_overdue`` of the columns ``target_date`` and ``status``.

    ``no_state`` is the condition under which a commitment has no state row (a missing span): it then
    counts as not started.
    """
    unfinished = Q(**{f"{status}__in": UNFINISHED})
    if no_state is not None:
        unfinished |= no_state
    return Q(**{f"{target_date}__lt": on}) & unfinished


def overdue_may_change(*, after: date, until: date) -> Q:
    """ORM, over commitments: ``is_overdue`` on ``until`` may differ from ``after`` whatever the state.

    The target date passes between the two days (``after`` before ``until``); otherwise only a change of
    state (``state_may_change``) moves it.
    """
    return Q(target_date__gte=after, target_date__lt=until)


def is_milestone_overdue(*, due_on: date, done_on: date | None, day: date) -> bool:
    """Python: a milestone is overdue on ``day``: its due day has passed and it was not done by then."""
    return due_on < day and (done_on is None or done_on > day)


def milestone_overdue_condition(*, on: date, prefix: str = "") -> Q:
    """ORM, over milestones (``prefix``: the path to one, ``milestones__``): ``is_milestone_overdue``."""
    return Q(**{f"{prefix}due_on__lt": on}) & (
        Q(**{f"{prefix}done_on__isnull": True}) | Q(**{f"{prefix}done_on__gt": on})
    )


def milestone_overdue_may_change(*, after: date, until: date) -> Q:
    """ORM, over commitments: ``is_milestone_overdue`` of one of its milestones on ``until`` may differ from ``after``.

    A milestone's due day falls from ``after`` (before ``until``) to the day before ``until``, or its done
    day after ``after`` and by ``until``; otherwise each of its milestones is overdue on both days or on neither.
    """
    moving = Milestone.objects.filter(
        Q(due_on__gte=after, due_on__lt=until) | Q(done_on__gt=after, done_on__lte=until)
    ).values("commitment_id")
    return Q(pk__in=moving)


def with_overdue(commitments: CommitmentQuerySet, *, on: date) -> CommitmentQuerySet:
    """ORM: annotate ``is_overdue`` from the stored state (the state now) on ``on``."""
    return commitments.annotate(is_overdue=Case(When(overdue_condition(on=on), then=Value(True)), default=Value(False)))


# --- no update in the quarter (stale) -----------------------------------------------------------------------


def is_stale(*, state_as_of: date | None, period_start: date) -> bool:
    """Python: stale in a period: the governing update at the period's end is older than its first day.

    The same as "no approved update as of a day in the period": the governing update is the latest.
    """
    return state_as_of is None or state_as_of < period_start


def stale_state(*, period_start: date, as_of: str = "state_as_of") -> Q:
    """ORM, over a governing update's annotated as-of date (``with_state_on``): ``is_stale``."""
    return Q(**{f"{as_of}__isnull": True}) | Q(**{f"{as_of}__lt": period_start})


def fresh_span(period_start: date, span: str = "now") -> Q:
    """ORM, over the governing span ``span``: not stale (``is_stale`` is false)."""
    return Q(**{f"{span}__starts__gte": period_start})


def approved_update_in(*, start: date, end: date) -> Exists:
    """ORM, over commitments: an approved update as of a day from ``start`` to ``end`` (not ``is_stale``)."""
    return Exists(
        StatusUpdate.objects.filter(commitment=OuterRef("pk"), state=UpdateState.APPROVED, as_of__range=(start, end))
    )


def stale_condition(*, start: date, end: date) -> Q:
    """ORM, over commitments: no approved update as of a day from ``start`` to ``end``."""
    return ~Q(approved_update_in(start=start, end=end))


# --- the quarterly update (freshness) -----------------------------------------------------------------------
#
# Each quarter an update is due from every counted commitment still in delivery when the quarter began:
# neither delivered nor withdrawn on the day before (no approved update yet: not started, so due). It is
# done by an approved update as of a day in the quarter (the commitment is then not stale). Freshness is
# the share of the commitments due that are done. ``metrics.update_cycle`` adds when it is due.


def is_update_due(*, status_before: str | None) -> bool:
    """Python: an update is due for a period from a commitment whose state the day before it began is ``status_before``.

    ``None``: no approved update by then (not started).
    """
    return status_before not in FINISHED


def update_due_span(span: str = "before") -> Q:
    """ORM, over the governing span ``span`` on the day before the period (none: not started): ``is_update_due``."""
    return Q(**{f"{span}__isnull": True}) | ~Q(**{f"{span}__status__in": FINISHED})


# --- movement: improved, worsened, status changed, newly rated, rating withdrawn ----------------------------
#
# Movement compares the state at the end of the previous period with the state now. Status is read on
# STATUS_RANK (withdrawn below not started); confidence on the five-point scale, CONFIDENCE_RANK. "Not
# rated" is not a rung of that scale: a first rating is neither better nor worse than none, so it is
# counted as newly rated, and losing a rating as rating withdrawn. Improved: the status moved forward, or,
# at the same status, the confidence moved towards green between two ratings. Worsened: the reverse.

STATUS_RANK: dict[str, int] = {
    DeliveryStatus.NOT_BEING_PURSUED: -1,
    DeliveryStatus.NOT_STARTED: 0,
    DeliveryStatus.IN_PROGRESS: 1,
    DeliveryStatus.DELIVERED: 2,
}
CONFIDENCE_RANK: dict[str, int] = {
    DeliveryConfidence.RED: 1,
    DeliveryConfidence.AMBER_RED: 2,
    DeliveryConfidence.AMBER: 3,
    DeliveryConfidence.AMBER_GREEN: 4,
    DeliveryConfidence.GREEN: 5,
}
MOVEMENTS = ("improved", "worsened", "status_changed", "newly_delivered", "newly_rated", "rating_withdrawn")


@dataclass(frozen=True)
class Movement:
    """How one commitment's state moved between two days (each field one of ``MOVEMENTS``)."""

    improved: bool
    worsened: bool
    status_changed: bool
    newly_delivered: bool
    newly_rated: bool
    rating_withdrawn: bool


def movement(*, status_before: str, confidence_before: str, status_after: str, confidence_after: str) -> Movement:
    """Python: how a commitment moved from one state to another (an absent state is ``NO_UPDATE_STATE``)."""
    before, after = STATUS_RANK[status_before], STATUS_RANK[status_after]
    rated = bool(confidence_before) and bool(confidence_after)
    same = before == after
    towards_green = rated and CONFIDENCE_RANK[confidence_after] > CONFIDENCE_RANK[confidence_before]
    towards_red = rated and CONFIDENCE_RANK[confidence_after] < CONFIDENCE_RANK[confidence_before]
    return Movement(
        improved=after > before or (same and towards_green),
        worsened=after < before or (same and towards_red),
        status_changed=not same,
        newly_delivered=status_after == DeliveryStatus.DELIVERED and status_before != DeliveryStatus.DELIVERED,
        newly_rated=not confidence_before and bool(confidence_after),
        rating_withdrawn=bool(confidence_before) and not confidence_after,
    )


def _rank(path: str, ranks: dict[str, int]) -> Case:
    return Case(
        *(When(**{path: value}, then=Value(rank)) for value, rank in ranks.items()), output_field=IntegerField()
    )


def movement_annotations(*, after: str, before: str) -> dict[str, Any]:
    """ORM: the ranks ``movement_conditions`` compares, for state paths ``after`` and ``before``.

    Each path leads to a ``status`` and a ``confidence`` (``now__status``, or ``state_status`` with an
    empty separator: pass ``"state_"``); a missing state (no span) is not started and unrated.
    """
    return {
        "_status_after": Coalesce(_rank(f"{after}status", STATUS_RANK), Value(STATUS_RANK[DeliveryStatus.NOT_STARTED])),
        "_status_before": Coalesce(
            _rank(f"{before}status", STATUS_RANK), Value(STATUS_RANK[DeliveryStatus.NOT_STARTED])
        ),
        # 0 for unrated: a rung below red that the conditions below never compare.
        "_confidence_after": Coalesce(_rank(f"{after}confidence", CONFIDENCE_RANK), Value(0)),
        "_confidence_before": Coalesce(_rank(f"{before}confidence", CONFIDENCE_RANK), Value(0)),
    }


def movement_conditions() -> dict[str, Q]:
    """ORM: ``movement`` as one condition per name of ``MOVEMENTS``, over ``movement_annotations``."""
    same = Q(_status_after=F("_status_before"))
    rated = Q(_confidence_after__gt=0, _confidence_before__gt=0)
    return {
        "improved": Q(_status_after__gt=F("_status_before"))
        | (same & rated & Q(_confidence_after__gt=F("_confidence_before"))),
        "worsened": Q(_status_after__lt=F("_status_before"))
        | (same & rated & Q(_confidence_after__lt=F("_confidence_before"))),
        "status_changed": ~same,
        "newly_delivered": Q(_status_after=STATUS_RANK[DeliveryStatus.DELIVERED])
        & ~Q(_status_before=STATUS_RANK[DeliveryStatus.DELIVERED]),
        "newly_rated": Q(_confidence_before=0, _confidence_after__gt=0),
        "rating_withdrawn": Q(_confidence_before__gt=0, _confidence_after=0),
    }


# --- counted: which commitments the figures count -----------------------------------------------------------


def counts(*, published: bool, deal_published_on: date | None, day: date) -> bool:
    """Python: whether one commitment counts on ``day``: published, of a deal published by then."""
    return published and deal_published_on is not None and deal_published_on <= day


def counted_on(day: date, prefix: str = "") -> Q:
    """ORM: ``counts``. ``prefix`` is the path from the queried model to the commitment (``commitment__``)."""
    return Q(**{f"{prefix}published": True, f"{prefix}deal__published_on__lte": day})


# --- key commitment, chapter elaboration, sub-item ----------------------------------------------------------

KEY_COMMITMENT, CHAPTER_ELABORATION, SUB_ITEM = "key_commitment", "chapter_elaboration", "sub_item"


def commitment_kind(*, section: str, parent_id: int | None) -> str:
    """Python: a sub-item (printed under another commitment), else a key commitment or a chapter's elaboration."""
    if parent_id is not None:
        return SUB_ITEM
    return KEY_COMMITMENT if section == Section.KEY_COMMITMENTS else CHAPTER_ELABORATION


def commitment_kind_condition(kind: str, prefix: str = "") -> Q:
    """ORM: ``commitment_kind`` equals ``kind``."""
    if kind == SUB_ITEM:
        return Q(**{f"{prefix}parent__isnull": False})
    section = Section.KEY_COMMITMENTS if kind == KEY_COMMITMENT else Section.CHAPTER
    return Q(**{f"{prefix}parent__isnull": True, f"{prefix}section": section})


def commitment_kind_expression(prefix: str = "") -> Case:
    """ORM: ``commitment_kind`` as a value, to group by (the engine counts both populations in one pass)."""
    return Case(
        *(When(commitment_kind_condition(kind, prefix), then=Value(kind)) for kind in (SUB_ITEM, KEY_COMMITMENT)),
        default=Value(CHAPTER_ELABORATION),
        output_field=TextField(),
    )


# --- population: key commitments first, or everything -------------------------------------------------------
#
# The board thinks in the deals' key commitments; the detailed chapters elaborate them, and some are printed
# with sub-items. Every figure is kept for two populations: the key commitments, which every page, the board
# pack and the API show unless asked otherwise, and everything counted, elaborations and sub-items included.


class Population(models.TextChoices):
    """Which commitments a figure counts: the deals' key commitments, or every kind."""

    KEY = "key", "Key commitments"
    ALL = "all", "Everything: key commitments, chapter elaborations and sub-items"


DEFAULT_POPULATION = Population.KEY


def in_population(*, population: str, kind: str) -> bool:
    """Python: whether a commitment of ``kind`` (``commitment_kind``) is counted in ``population``."""
    return population == Population.ALL or kind == KEY_COMMITMENT


def populations_of(kind: str) -> list[str]:
    """Python: the populations a commitment of ``kind`` is counted in (always ``ALL``)."""
    return [population.value for population in Population if in_population(population=population, kind=kind)]


def population_condition(population: str, prefix: str = "") -> Q:
    """ORM: ``in_population`` of the commitment at ``prefix``."""
    return Q() if population == Population.ALL else commitment_kind_condition(KEY_COMMITMENT, prefix)


# --- measures read from the counts: share delivered and mean progress ---------------------------------------
#
# A percentage always names what it is a share of. Share delivered is over every commitment counted. Progress
# is the mean over the commitments reporting a figure (``progress_reported``, with ``implied_progress``: a
# delivered commitment reports 100, a not started one 0, one in progress without a figure none), shown with
# that count beside the commitments counted: "62%, 7 of 72 reporting". Counting a commitment reporting no
# figure as 0 would invent a figure its updates do not give (one in progress is not at 0), and the mean would
# then move when reporting improves rather than when delivery does; the reporting gap is shown apart instead.


def reports_progress(progress: int | None) -> bool:
    """Python: whether a commitment's state (its implied progress) reports a progress figure."""
    return progress is not None


def progress_reported_condition(progress: str = "progress") -> Q:
    """ORM: ``reports_progress`` of the implied progress at ``progress``."""
    return Q(**{f"{progress}__isnull": False})


def share_delivered(*, delivered: int, commitments: int) -> Decimal | None:
    """Delivered as a share of every commitment counted; None where none is counted."""
    return Decimal(delivered) / commitments if commitments else None


def mean_progress(*, progress_total: int, progress_reported: int) -> Decimal | None:
    """The mean progress of the commitments reporting a figure (not of every commitment); None where none does."""
    return Decimal(progress_total) / progress_reported if progress_reported else None


def freshness(*, updates_done: int, updates_due: int) -> Decimal | None:
    """The share of the commitments a period's update is due from (``is_update_due``) that have it approved.

    None where no update is due.
    """
    return Decimal(updates_done) / updates_due if updates_due else None


#: Confidence ratings read as on track and as at risk (the overview's tiles, lists and tables).
ON_TRACK = (DeliveryConfidence.GREEN, DeliveryConfidence.AMBER_GREEN)
AT_RISK = (DeliveryConfidence.AMBER_RED, DeliveryConfidence.RED)


def with_milestone_overdue(milestones: QuerySet[Milestone], *, on: date) -> QuerySet[Milestone]:
    """ORM: annotate each milestone with ``is_overdue`` on ``on`` (``milestone_overdue_condition``)."""
    return milestones.annotate(
        is_overdue=Case(When(milestone_overdue_condition(on=on), then=Value(True)), default=Value(False))
    )

"""What each counted commitment adds to its scopes' figures as of a day, written once for the engine to sum.

``metrics.engine.compute_figures`` groups the commitments once per kind of scope (the single-valued types
together, then themes, lead organisations and programmes). Rather than each pass joining every commitment
to the delivery span covering the day and the one covering the previous quarter's end, and deciding every
rule again, one statement writes each counted commitment's row to a narrow temporary table
(``metrics.models.DayState``): its kind, its state on both days, and each rule decided for it, as 0 or 1
(fresh, the quarter's update due, overdue on either day, every movement), with how many of its milestones
are overdue on either day. The passes then sum those rows. The statement is the ORM's, from the rules' own
expressions (``rules.covering_span``, ``fresh_span``, ``update_due_span``, ``overdue_condition``,
``milestone_overdue_condition``, ``movement_conditions``, ``commitment_kind_expression``, ``counted_on``),
so no rule is restated here.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

from django.db import connection, transaction
from django.db.models import (
    Case,
    CharField,
    Count,
    DecimalField,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce

from commitments.models import Commitment, Milestone
from metrics import rules
from metrics.models import DayState

#: The rules decided once per commitment, as 0 or 1, beside its state (``DayState``'s columns).
MOVEMENT_FLAGS = tuple(rules.MOVEMENTS)
_STATE = ("status", "confidence", "progress", "spent")
_NONE: dict[str, Any] = {
    "status": Value(None, output_field=CharField()),
    "confidence": Value(None, output_field=CharField()),
    "progress": Value(None, output_field=IntegerField()),
    "spent": Value(None, output_field=DecimalField()),
}


@contextmanager
def day_states(
    *, day: date, period_start: date, previous_end: date | None, among: QuerySet[Commitment] | None = None
) -> Iterator[None]:
    """Within this block, ``DayState`` holds a row for every commitment counted on ``day`` (of ``among``, if given).

    ``period_start`` is the first day of the period (freshness); ``previous_end`` the day movement is measured
    from and the state before is read on (without it: no state before, no movement). The table is temporary,
    in a transaction of its own (one connection holds it, behind any pooler), and dropped on leaving.
    """
    table = connection.ops.quote_name(DayState._meta.db_table)
    with transaction.atomic():
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                # Short statements over a few hundred thousand rows: compiling them costs more than it saves.
                cursor.execute("SET LOCAL jit = off")
                if among is not None:
                    # A few of the commitments (time travel: those changed since the quarter before), which
                    # PostgreSQL cannot estimate: look each one's spans up by index rather than hash every span.
                    cursor.execute("SET LOCAL enable_hashjoin = off")
                    cursor.execute("SET LOCAL enable_mergejoin = off")
            cursor.execute(f"DROP TABLE IF EXISTS {table}")
            columns = ", ".join(
                f"{connection.ops.quote_name(field.column)} {field.db_type(connection)}"
                for field in DayState._meta.local_fields
            )
            cursor.execute(f"CREATE TEMPORARY TABLE {table} ({columns})")
            names, rows = _rows(day, period_start, previous_end, among)
            select, params = rows.query.sql_with_params()
            quoted = ", ".join(connection.ops.quote_name(name) for name in names)
            cursor.execute(f"INSERT INTO {table} ({quoted}) {select}", params)
            if connection.vendor == "postgresql":
                cursor.execute("SET LOCAL enable_hashjoin = on")
                cursor.execute("SET LOCAL enable_mergejoin = on")
                cursor.execute(f"ANALYZE {table}")  # so that the passes join it knowing its size
        try:
            yield
        finally:
            with connection.cursor() as cursor:
                cursor.execute(f"DROP TABLE IF EXISTS {table}")


def _flag(condition: Q) -> Case:
    return Case(When(condition, then=Value(1)), default=Value(0), output_field=IntegerField())


def _milestones_overdue(day: date) -> Coalesce:
    """ORM, over commitments: how many of the commitment's milestones are overdue on ``day``."""
    overdue = (
        Milestone.objects.filter(rules.milestone_overdue_condition(on=day), commitment=OuterRef("pk"))
        .order_by()
        .values("commitment")
        .annotate(count=Count("pk"))
        .values("count")
    )
    return Coalesce(Subquery(overdue, output_field=IntegerField()), Value(0))


def _rows(
    day: date, period_start: date, previous_end: date | None, among: QuerySet[Commitment] | None
) -> tuple[list[str], QuerySet[Commitment]]:
    """The columns of ``DayState`` and the query selecting them, in that order, for every commitment counted."""
    counted = Commitment.objects.filter(rules.counted_on(day))
    if among is not None:
        counted = counted.filter(pk__in=among.values("pk"))
    rows = counted.annotate(now=rules.covering_span(day))
    values: dict[str, Any] = {
        "commitment_id": "pk",
        "kind": rules.commitment_kind_expression(),
        **{name: f"now__{name}" for name in _STATE},
        "fresh": _flag(rules.fresh_span(period_start, span="now")),
        # No span on the day: not started.
        "overdue": _flag(rules.overdue_condition(on=day, status="now__status", no_state=Q(now__isnull=True))),
        "milestones_overdue": _milestones_overdue(day),
    }
    if previous_end is not None:
        rows = rows.annotate(before=rules.covering_span(previous_end)).annotate(
            **rules.movement_annotations(after="now__", before="before__")
        )
        conditions = rules.movement_conditions()
        values |= {name: _flag(conditions[name]) for name in MOVEMENT_FLAGS}
        values |= {f"before_{name}": f"before__{name}" for name in _STATE}
        values["before_overdue"] = _flag(
            rules.overdue_condition(on=previous_end, status="before__status", no_state=Q(before__isnull=True))
        )
        values["before_milestones_overdue"] = _milestones_overdue(previous_end)
        # The quarter's update is due from the state the day before it began (no span then: not started).
        values["due"] = _flag(rules.update_due_span("before"))
    else:
        values |= dict.fromkeys(MOVEMENT_FLAGS, Value(0))
        values |= {f"before_{name}": value for name, value in _NONE.items()}
        values["before_overdue"] = Value(0)
        values["before_milestones_overdue"] = Value(0)
        values["due"] = Value(1)  # nothing before the first period: an update is due from every commitment
    # Every value an annotation of its own, selected in the columns' order.
    aliases = {f"_day_state_{name}": value for name, value in values.items() if not isinstance(value, str)}
    rows = rows.annotate(**aliases)
    selected = [value if isinstance(value, str) else f"_day_state_{name}" for name, value in values.items()]
    return list(values), rows.values_list(*selected).order_by()

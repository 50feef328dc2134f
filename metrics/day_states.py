"""Each counted commitment's state on a day, written once for the engine's grouped passes to read.

``metrics.engine.compute_figures`` groups the commitments once per kind of scope (the single-valued types
together, then themes, lead organisations and programmes). Each pass used to join every commitment to the
delivery span covering the day and to the one covering the quarter before's end; now one statement writes
those two states, with the commitment's kind, to a narrow temporary table (``metrics.models.DayState``),
and the passes join that instead. The statement is the ORM's (``rules.covering_span``,
``rules.commitment_kind_expression``, ``rules.counted_on``), so no rule is restated here.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date

from django.db import connection, transaction
from django.db.models import CharField, DecimalField, PositiveSmallIntegerField, QuerySet, Value

from commitments.models import Commitment
from metrics import rules
from metrics.models import DayState

_NOW = ("starts", "status", "confidence", "progress", "spent")
_BEFORE = ("status", "confidence", "progress", "spent")
_NONE = {
    "status": Value(None, output_field=CharField()),
    "confidence": Value(None, output_field=CharField()),
    "progress": Value(None, output_field=PositiveSmallIntegerField()),
    "spent": Value(None, output_field=DecimalField()),
}


@contextmanager
def day_states(*, day: date, previous_end: date | None, among: QuerySet[Commitment] | None = None) -> Iterator[None]:
    """Within this block, ``DayState`` holds every commitment counted on ``day`` (of ``among``, if given).

    Its state on ``day`` and, with ``previous_end``, on that day (otherwise none). The table is temporary,
    in a transaction of its own (one connection holds it, behind any pooler), and dropped on leaving.
    """
    table = connection.ops.quote_name(DayState._meta.db_table)
    with transaction.atomic():
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                # Short statements over a few hundred thousand rows: compiling them costs more than it saves.
                cursor.execute("SET LOCAL jit = off")
            cursor.execute(f"DROP TABLE IF EXISTS {table}")
            columns = ", ".join(
                f"{connection.ops.quote_name(field.column)} {field.db_type(connection)}"
                for field in DayState._meta.local_fields
            )
            cursor.execute(f"CREATE TEMPORARY TABLE {table} ({columns})")
            select, params = _states(day, previous_end, among).query.sql_with_params()
            cursor.execute(f"INSERT INTO {table} ({', '.join(_columns())}) {select}", params)
            if connection.vendor == "postgresql":
                cursor.execute(f"ANALYZE {table}")  # so that the passes join it knowing its size
        try:
            yield
        finally:
            with connection.cursor() as cursor:
                cursor.execute(f"DROP TABLE IF EXISTS {table}")


def _columns() -> list[str]:
    names = ["commitment_id", "kind", *_NOW, *(f"before_{name}" for name in _BEFORE)]
    return [connection.ops.quote_name(name) for name in names]


def _states(day: date, previous_end: date | None, among: QuerySet[Commitment] | None) -> QuerySet[Commitment]:
    counted = Commitment.objects.filter(rules.counted_on(day))
    if among is not None:
        counted = counted.filter(pk__in=among.values("pk"))
    states = counted.annotate(now=rules.covering_span(day), _state_kind=rules.commitment_kind_expression())
    before: list[str] = []
    if previous_end is not None:
        states = states.annotate(before=rules.covering_span(previous_end))
        before = [f"before__{name}" for name in _BEFORE]
    else:
        states = states.annotate(**{f"_none_{name}": value for name, value in _NONE.items()})
        before = [f"_none_{name}" for name in _BEFORE]
    return states.values_list("pk", "_state_kind", *(f"now__{name}" for name in _NOW), *before).order_by()

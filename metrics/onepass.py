"""The figures of many quarters in one pass over the delivery spans (the nightly full rebuild).

``metrics.engine.compute_figures`` answers one day: it joins every commitment to the span covering that
day. Run for each of some forty quarters, that is forty passes over the spans. Here the spans are read
once, as changes: the quarter ends (and, for the quarter in progress, today) are numbered as points, and
each span covering at least one point becomes events at the point its state starts to count and at the
point it stops (``span_covers``). A scope's level figures at a point (statuses, ratings, progress,
spending, overdue) are then running sums of its events; its flow figures (fresh, movement) are counted
at the point a span starts. The events are written once to a temporary table, summed by point and by the
keys of each scope type (one statement for the single-valued types, one per many-valued type) and added up
in Python per scope: the rows coming back are per group of commitments, never per commitment.

No rule is restated. Which point a date first counts at, whether a span's update is fresh in the quarter
it starts in, which points a target date makes a commitment overdue from, and what each pair of states
means as movement are decided in Python by ``metrics.rules`` (``span_covers``, ``is_stale``,
``is_overdue``, ``movement``) and handed to the database as small lookup tables; which commitments count
(``counts``) is applied per deal and quarter here; the commitment's kind and each scope's key and label
come from the ORM (``commitment_kind_expression``, ``engine.SCOPES``). Money depends on the day only
through which deals count, so it is computed once per set of counted deals by the engine's own queries.
The figures are assembled by the engine's ``assemble``: ``tests/test_onepass.py`` checks they equal
``compute_figures`` field by field for every quarter on SQLite and PostgreSQL.
"""

# ruff: noqa: S608  (every name put into the SQL is this module's own or the ORM's; values are parameters)
from __future__ import annotations

import bisect
import itertools
import uuid
from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import F, Model, QuerySet

from commitments.delivery import DeliveryConfidence, DeliveryStatus
from commitments.models import Commitment
from commitments.periods import Quarter
from metrics import rules
from metrics.engine import (
    KIND,
    SCOPES,
    STARTED,
    STORED_MONEY_AGGREGATES,
    STORED_MOVEMENTS,
    TRACKER_KEY,
    ByPopulation,
    Figures,
    assemble,
    attributed_money,
    counted_funding,
    grouped_by_scope,
    rolled_up,
)
from metrics.models import DeliverySpan, ScopeType
from metrics.rules import Population, populations_of

CENT = Decimal("0.01")
# Figures that hold at a point (running sums of events) and those counted at the point they happen.
_LEVELS = ("total", *STARTED, *DeliveryConfidence.values, "progress_reported", "progress_total", "spent", "overdue")
_FLOWS = ("fresh", *STORED_MOVEMENTS)
_SUMS = (*_LEVELS, *_FLOWS)
_CONFIDENCES = ("", *DeliveryConfidence.values)  # "" is unrated

_DATES, _MOVES, _COVERING, _EVENTS = "onepass_dates", "onepass_moves", "onepass_covering", "onepass_events"
_MEMBERS = "onepass_members"


@dataclass(frozen=True)
class QuarterDays:
    """A quarter and the days its figures read.

    As of ``day`` (``Quarter.figures_day``); movement is measured from ``previous_end`` (none in the first).
    """

    quarter: Quarter
    day: date
    previous_end: date | None


def figures_by_quarter(quarters: Sequence[QuarterDays]) -> Iterator[tuple[Quarter, list[Figures]]]:
    """The figures of every scope of each of ``quarters``, as ``compute_figures`` gives them, in one pass.

    Yields each quarter with its figures, in the order given, once the spans have been read for all.
    """
    if not quarters:
        return
    points = sorted({item.day for item in quarters} | {item.previous_end for item in quarters if item.previous_end})
    with _temporary_tables():
        _fill_lookups(points, quarters)
        _fill_events()
        states = _scope_states(points, quarters)
    money = _money_by_deals(quarters)
    for item in quarters:
        results: list[Figures] = []
        for population, scope in itertools.product(Population.values, SCOPES):
            scope_states = states[item.quarter][population][scope.scope_type]
            if scope.scope_type == ScopeType.TRACKER:
                # The whole tracker has figures for every day, zeros before any deal was published.
                scope_states.setdefault(TRACKER_KEY, {"_label": None} | dict.fromkeys(_SUMS, 0))
            if item.previous_end is None:  # no movement is measured in the first quarter
                for row in scope_states.values():
                    for name in STORED_MOVEMENTS:
                        row.pop(name, None)
            results.extend(assemble(scope, population, scope_states, money[item.quarter][population][scope.scope_type]))
        yield item.quarter, results


# --- the lookups: every rule decided in Python, handed to the database as small tables ----------------------


def _fill_lookups(points: list[date], quarters: Sequence[QuarterDays]) -> None:
    """Number each date the spans and target dates hold by the points it reaches; tabulate movement."""
    start_of = {item.day: item.quarter.start for item in quarters}
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT starts FROM {_table(DeliverySpan)} UNION SELECT ends FROM {_table(DeliverySpan)} "
            f"UNION SELECT target_date FROM {_table(Commitment)}"
        )
        days = [day for (day,) in cursor.fetchall() if day is not None]
        rows = []
        for day in days:
            # The first point a span starting on ``day`` covers; also the first one a span ending then no longer does.
            covers = _first(points, lambda point, day=day: rules.span_covers(day, None, point))
            # The first point a commitment with this target date is overdue on, while unfinished.
            overdue = _first(
                points,
                lambda point, day=day: rules.is_overdue(target_date=day, status=DeliveryStatus.NOT_STARTED, day=point),
            )
            # Whether an update as of ``day`` is fresh at the point it first covers: the quarter ending there.
            period_start = start_of.get(points[covers]) if covers is not None else None
            fresh = period_start is not None and not rules.is_stale(state_as_of=day, period_start=period_start)
            rows.append((day, covers, overdue, int(fresh)))
        cursor.executemany(f"INSERT INTO {_DATES} (day, covers, overdue, fresh) VALUES (%s, %s, %s, %s)", rows)
        moves: list[tuple[Any, ...]] = []
        for before, after in itertools.product(itertools.product(DeliveryStatus.values, _CONFIDENCES), repeat=2):
            moved = rules.movement(
                status_before=before[0], confidence_before=before[1], status_after=after[0], confidence_after=after[1]
            )
            moves.append((*before, *after, *(int(getattr(moved, name)) for name in STORED_MOVEMENTS)))
        names = ", ".join(STORED_MOVEMENTS)
        marks = ", ".join(["%s"] * (4 + len(STORED_MOVEMENTS)))
        cursor.executemany(
            f"INSERT INTO {_MOVES} (status_before, confidence_before, status_after, confidence_after, {names}) "
            f"VALUES ({marks})",
            moves,
        )


def _first(points: list[date], holds: Any) -> int | None:
    """The index of the first point at which the (monotone) condition ``holds``, or None."""
    index = bisect.bisect_left(points, True, key=holds)
    return index if index < len(points) else None


# --- the events: one pass over the spans ------------------------------------------------------------------


def _fill_events() -> None:
    """Write each covering span's events, each commitment's own, and each change of state's movement."""
    spans, commitments = _table(DeliverySpan), _table(Commitment)
    overdue_statuses = [
        status
        for status in DeliveryStatus.values
        if rules.is_overdue(target_date=date.min, status=status, day=date.max)
    ]
    no_state = rules.NO_UPDATE_STATE
    with connection.cursor() as cursor:
        # The spans that cover at least one point, with the points they cover: from ``first`` to before ``stop``.
        cursor.execute(
            f"INSERT INTO {_COVERING} (commitment_id, first, stop, status, confidence, progress, spent, fresh) "
            f"SELECT s.commitment_id, a.covers, b.covers, s.status, s.confidence, s.progress, s.spent, a.fresh "
            f"FROM {spans} s JOIN {_DATES} a ON a.day = s.starts LEFT JOIN {_DATES} b ON b.day = s.ends "
            f"WHERE a.covers IS NOT NULL AND (b.covers IS NULL OR a.covers < b.covers)"
        )
        _analyze(cursor, _DATES, _MOVES, _COVERING)

        def state(sign: str, alias: str = "c") -> tuple[str, list[Any]]:
            parts = [f"CASE WHEN {alias}.status = %s THEN {sign} ELSE 0 END" for _ in STARTED]
            parts += [f"CASE WHEN {alias}.confidence = %s THEN {sign} ELSE 0 END" for _ in DeliveryConfidence.values]
            parts += [
                f"CASE WHEN {alias}.progress IS NOT NULL THEN {sign} ELSE 0 END",
                f"{sign} * COALESCE({alias}.progress, 0)",
                f"{sign} * COALESCE({alias}.spent, 0)",
            ]
            return ", ".join(parts), list(STARTED) + list(DeliveryConfidence.values)

        columns = ", ".join(("commitment_id", "point", *_SUMS))
        zeros_flows = ", ".join(["0"] * len(_FLOWS))
        level_zeros = ", ".join(["0"] * (len(_LEVELS) - 2))  # all but total and overdue
        # A span starts: its state counts from its first point; fresh and movement are counted there.
        plus, plus_params = state("1")
        movement = ", ".join(f"COALESCE(m.{name}, 0)" for name in STORED_MOVEMENTS)
        cursor.execute(
            f"INSERT INTO {_EVENTS} ({columns}) "
            f"SELECT c.commitment_id, c.first, 0, {plus}, 0, c.fresh, {movement} "
            f"FROM (SELECT c.*, LAG(status) OVER w AS status_before, LAG(confidence) OVER w AS confidence_before "
            f"      FROM {_COVERING} c WINDOW w AS (PARTITION BY commitment_id ORDER BY first)) c "
            f"LEFT JOIN {_MOVES} m ON c.first > 0 AND m.status_before = COALESCE(c.status_before, %s) "
            f"AND m.confidence_before = COALESCE(c.confidence_before, %s) "
            f"AND m.status_after = c.status AND m.confidence_after = c.confidence",
            [*plus_params, no_state.status, no_state.confidence],
        )
        # A span stops covering: its state no longer counts.
        minus, minus_params = state("-1")
        cursor.execute(
            f"INSERT INTO {_EVENTS} ({columns}) SELECT c.commitment_id, c.stop, 0, {minus}, 0, {zeros_flows} "
            f"FROM {_COVERING} c WHERE c.stop IS NOT NULL",
            minus_params,
        )
        # Overdue while a span of an unfinished status covers a point past the target date.
        marks = ", ".join(["%s"] * len(overdue_statuses))
        late = "CASE WHEN t.overdue > c.first THEN t.overdue ELSE c.first END"
        cursor.execute(
            f"INSERT INTO {_EVENTS} ({columns}) "
            f"SELECT c.commitment_id, {late}, 0, {level_zeros}, 1, {zeros_flows} FROM {_COVERING} c "
            f"JOIN {commitments} k ON k.id = c.commitment_id JOIN {_DATES} t ON t.day = k.target_date "
            f"WHERE c.status IN ({marks}) AND t.overdue IS NOT NULL AND (c.stop IS NULL OR {late} < c.stop)",
            overdue_statuses,
        )
        cursor.execute(
            f"INSERT INTO {_EVENTS} ({columns}) "
            f"SELECT c.commitment_id, c.stop, 0, {level_zeros}, -1, {zeros_flows} FROM {_COVERING} c "
            f"JOIN {commitments} k ON k.id = c.commitment_id JOIN {_DATES} t ON t.day = k.target_date "
            f"WHERE c.status IN ({marks}) AND t.overdue IS NOT NULL AND c.stop IS NOT NULL AND {late} < c.stop",
            overdue_statuses,
        )
        # Each commitment counts from the first point; with no state (before its first covering span) it is
        # not started, and overdue past its target date.
        no_state_overdue = (
            "CASE WHEN t.overdue IS NOT NULL AND (f.first IS NULL OR t.overdue < f.first) THEN 1 ELSE 0 END"
        )
        first_spans = f"(SELECT commitment_id, MIN(first) AS first FROM {_COVERING} GROUP BY commitment_id)"
        cursor.execute(
            f"INSERT INTO {_EVENTS} ({columns}) "
            f"SELECT k.id, 0, 1, {level_zeros}, 0, {zeros_flows} FROM {commitments} k",
        )
        cursor.execute(
            f"INSERT INTO {_EVENTS} ({columns}) "
            f"SELECT k.id, t.overdue, 0, {level_zeros}, 1, {zeros_flows} FROM {commitments} k "
            f"JOIN {_DATES} t ON t.day = k.target_date LEFT JOIN {first_spans} f ON f.commitment_id = k.id "
            f"WHERE {no_state_overdue} = 1"
        )
        _analyze(cursor, _EVENTS)
        cursor.execute(
            f"INSERT INTO {_EVENTS} ({columns}) "
            f"SELECT k.id, f.first, 0, {level_zeros}, -1, {zeros_flows} FROM {commitments} k "
            f"JOIN {_DATES} t ON t.day = k.target_date JOIN {first_spans} f ON f.commitment_id = k.id "
            f"WHERE {no_state_overdue} = 1"
        )


# --- summing the events per scope and adding them up per quarter -----------------------------------------


def _scope_states(points: list[date], quarters: Sequence[QuarterDays]) -> dict[Quarter, dict[str, ByPopulation]]:
    """Each quarter's state aggregates by population, scope type and key, as ``compute_figures`` sums them."""
    at_point = {points.index(item.day): item for item in quarters}
    states: dict[Quarter, dict[str, ByPopulation]] = {
        item.quarter: {population: {scope.scope_type: {} for scope in SCOPES} for population in Population.values}
        for item in quarters
    }
    single = [scope for scope in SCOPES if not scope.many]
    paths = sorted({path for scope in single for path in (scope.key, scope.label) if path})
    names = {path: f"_g{index}" for index, path in enumerate(paths)}
    about = _commitments().annotate(**{name: F(path) for path, name in names.items()})
    groups = _sum_events(about.values("_id", "_published", "_deal_published_on", KIND, *names.values()), names.values())
    for (published, deal_published_on, kind, *values), sums in groups.items():
        row = dict(zip(names.values(), values, strict=True))
        for point, totals in _running(sums, len(points)):
            item = at_point.get(point)
            if item is None or not rules.counts(published=published, deal_published_on=deal_published_on, day=item.day):
                continue
            for population, scope in itertools.product(populations_of(kind), single):
                key = TRACKER_KEY if scope.key is None else row[names[scope.key]]
                if key is None:  # outside the scope type (a commitment with no area)
                    continue
                label = row[names[scope.label]] if scope.label else None
                scoped = states[item.quarter][population][scope.scope_type]
                _add(scoped.setdefault(str(key), {"_label": label}), totals)
    for scope in SCOPES:
        if not scope.many:
            continue
        assert scope.key is not None  # noqa: S101  (a many-valued type has keys and labels)
        assert scope.label is not None  # noqa: S101
        members = (
            _commitments()
            .filter(**scope.condition)
            .annotate(_key=F(scope.key), _scope_label=F(scope.label))
            .values("_id", "_published", "_deal_published_on", KIND, "_key", "_scope_label")
        )
        is_uuid = scope.key.endswith("uuid")
        for (published, deal_published_on, kind, key, label), sums in _sum_events(
            members, ("_key", "_scope_label")
        ).items():
            key = str(key if isinstance(key, uuid.UUID) or not is_uuid else uuid.UUID(key))
            for point, totals in _running(sums, len(points)):
                item = at_point.get(point)
                if item is None or not rules.counts(
                    published=published, deal_published_on=deal_published_on, day=item.day
                ):
                    continue
                for population in populations_of(kind):
                    scoped = states[item.quarter][population][scope.scope_type]
                    _add(scoped.setdefault(key, {"_label": label}), totals)
    return states


def _commitments() -> QuerySet[Commitment]:
    """Every commitment with what says whether it counts and in which population (``metrics.rules``)."""
    return Commitment.objects.annotate(
        _id=F("pk"),
        _published=F("published"),
        _deal_published_on=F("deal__published_on"),
        **{KIND: rules.commitment_kind_expression()},
    ).order_by()


def _sum_events(members: QuerySet[Any], labels: Any) -> dict[tuple[Any, ...], dict[int, list[Any]]]:
    """The events of ``members`` summed by point and by every column but the commitment's, by group.

    Each group of commitments is numbered first, so the events are summed by a number and a point (a few
    thousand groups) rather than sorted by every key and label.
    """
    select, params = members.query.sql_with_params()
    group = ["_published", "_deal_published_on", KIND, *labels]
    quoted = ", ".join(f"m.{connection.ops.quote_name(name)}" for name in group)
    sums = ", ".join(f"SUM(e.{name})" for name in _SUMS)
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {_MEMBERS}")
        cursor.execute(
            f"CREATE TEMPORARY TABLE {_MEMBERS} AS SELECT m.{connection.ops.quote_name('_id')} AS commitment_id, "
            f"DENSE_RANK() OVER (ORDER BY {quoted}) AS grp, {quoted} FROM ({select}) m",
            params,
        )
        _analyze(cursor, _MEMBERS)
        cursor.execute(f"SELECT DISTINCT grp, {quoted} FROM {_MEMBERS} m")
        keys = {row[0]: row[1:] for row in cursor.fetchall()}
        cursor.execute(
            f"SELECT m.grp, e.point, {sums} FROM {_EVENTS} e JOIN {_MEMBERS} m ON m.commitment_id = e.commitment_id "
            f"GROUP BY m.grp, e.point"
        )
        groups: dict[tuple[Any, ...], dict[int, list[Any]]] = defaultdict(dict)
        for grp, point, *values in cursor.fetchall():
            published, deal_published_on, kind, *rest = keys[grp]
            if isinstance(deal_published_on, str):
                deal_published_on = date.fromisoformat(deal_published_on)  # SQLite hands dates back as text
            groups[(bool(published), deal_published_on, kind, *rest)][point] = values
        cursor.execute(f"DROP TABLE IF EXISTS {_MEMBERS}")
    return groups


def _analyze(cursor: Any, *tables: str) -> None:
    # Fresh statistics, so that PostgreSQL sums a few thousand groups in memory rather than sorting on disk.
    if connection.vendor == "postgresql":
        for table in tables:
            cursor.execute(f"ANALYZE {table}")


def _running(sums: dict[int, list[Any]], count: int) -> Iterator[tuple[int, dict[str, Any]]]:
    """Each point's figures: the levels summed over the events up to it, the flows at it."""
    levels: list[Any] = [0] * len(_LEVELS)
    spent = _LEVELS.index("spent")
    for point in range(count):
        events = sums.get(point)
        flows = [0] * len(_FLOWS)
        if events is not None:
            for index in range(len(_LEVELS)):
                value = events[index] or 0
                levels[index] += _decimal(value) if index == spent else value
            flows = [value or 0 for value in events[len(_LEVELS) :]]
        yield point, dict(zip(_SUMS, [*levels, *flows], strict=True))


def _decimal(value: Any) -> Decimal:
    # SQLite sums decimals as floats: read back to the cent, as the ORM's decimal converter does.
    return (value if isinstance(value, Decimal) else Decimal(str(value))).quantize(CENT)


def _add(totals: dict[str, Any], row: dict[str, Any]) -> None:
    for name in _SUMS:
        totals[name] = totals.get(name, 0) + row[name]


# --- money: once per set of counted deals ------------------------------------------------------------------


def _money_by_deals(quarters: Sequence[QuarterDays]) -> dict[Quarter, dict[str, dict[str, dict[str, dict[str, Any]]]]]:
    """Each quarter's money by population, scope type and key: computed once per set of deals counted."""
    deals = list(Commitment.objects.order_by().values_list("published", "deal__published_on").distinct())
    by_deals: dict[frozenset[Any], dict[str, dict[str, dict[str, dict[str, Any]]]]] = {}
    money = {}
    for item in quarters:
        counted = frozenset(
            pair for pair in deals if rules.counts(published=pair[0], deal_published_on=pair[1], day=item.day)
        )
        if counted not in by_deals:
            by_deals[counted] = _money_on(item.day)
        money[item.quarter] = by_deals[counted]
    return money


def _money_on(day: date) -> dict[str, dict[str, dict[str, dict[str, Any]]]]:
    """The money of every scope as of ``day``, by population, scope type and key, as ``compute_figures`` sums it."""
    funding = (
        counted_funding()
        .filter(rules.counted_on(day, "commitment__"))
        .annotate(**{KIND: rules.commitment_kind_expression("commitment__")})
    )
    single = [scope for scope in SCOPES if not scope.many]
    money = rolled_up(funding, single, "commitment__", STORED_MONEY_AGGREGATES)
    for scope in SCOPES:
        if scope.many:
            grouped = (
                attributed_money(funding, None)
                if scope.money_attributed
                else grouped_by_scope(funding, scope, "commitment__", **STORED_MONEY_AGGREGATES)
            )
            for population in Population.values:
                money[population][scope.scope_type] = grouped[population]
    return money


# --- the temporary tables ----------------------------------------------------------------------------------


@contextmanager
def _temporary_tables() -> Iterator[None]:
    sums = ", ".join(f"{name} {'NUMERIC' if name == 'spent' else 'INTEGER'} NOT NULL" for name in _SUMS)
    moves = ", ".join(f"{name} INTEGER NOT NULL" for name in STORED_MOVEMENTS)
    tables = {
        _DATES: "day DATE NOT NULL PRIMARY KEY, covers INTEGER, overdue INTEGER, fresh INTEGER NOT NULL",
        _MOVES: f"status_before VARCHAR(20), confidence_before VARCHAR(20), status_after VARCHAR(20), "
        f"confidence_after VARCHAR(20), {moves}",
        _COVERING: "commitment_id BIGINT NOT NULL, first INTEGER NOT NULL, stop INTEGER, status VARCHAR(20), "
        "confidence VARCHAR(20), progress INTEGER, spent NUMERIC, fresh INTEGER NOT NULL",
        _EVENTS: f"commitment_id BIGINT NOT NULL, point INTEGER NOT NULL, {sums}",
    }
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql" and connection.in_atomic_block:
            # Short statements over a few million rows: compiling them costs more than it saves.
            cursor.execute("SET LOCAL jit = off")
            cursor.execute("SET LOCAL work_mem = '64MB'")
        for name, columns in tables.items():
            cursor.execute(f"DROP TABLE IF EXISTS {name}")
            cursor.execute(f"CREATE TEMPORARY TABLE {name} ({columns})")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            for name in tables:
                cursor.execute(f"DROP TABLE IF EXISTS {name}")


def _table(model: type[Model]) -> str:
    return connection.ops.quote_name(model._meta.db_table)

"""The figures of many quarters in one pass over the delivery spans (the nightly full rebuild).

``metrics.engine.compute_figures`` answers one day: it joins every commitment to the span covering that
day. Run for each of some forty quarters, that is forty passes over the spans. Here the spans are read
once, as changes: the quarter ends (and, for the quarter in progress, today) are numbered as points, and
each span covering at least one point becomes one event at the first point it covers (``span_covers``):
the change from the state of the span it takes over from (a numbered pair of states), with the change of
progress and spending. A scope's level figures at a point (statuses, ratings, progress, spending,
overdue, milestones overdue) are then running sums of its events; its flow figures (fresh, movement, the
quarter's updates done) are counted at the point a span starts, and a quarter's updates due are the level
of commitments an update would be due from at the point before (the quarter before's end). The events
are written once to a narrow temporary table, summed by point and by the keys of each scope type (one
statement for the single-valued types, one per many-valued type) and added up in Python per scope: the
rows coming back are per group of commitments, never per commitment.

No rule is restated. Which point a date first counts at, whether a span's update is fresh in the quarter it
starts in, which points a target date makes a commitment overdue from, and what each pair of states means as
levels and movement are decided in Python by ``metrics.rules`` (``span_covers``, ``is_stale``,
``is_overdue``, ``movement``, ``is_update_due``, ``is_milestone_overdue``) and handed to the database as
small lookup tables; which commitments count (``counts``) is applied per deal and quarter here; the
commitment's kind and each scope's key and label come from the ORM (``commitment_kind_expression``,
``engine.SCOPES``). Money depends on the day only through which deals count, so it is computed once per set
of counted deals by the engine's own queries. The figures are assembled by the engine's ``assemble``:
``tests/test_onepass.py`` checks they equal ``compute_figures`` field by field for every quarter on SQLite
and PostgreSQL.
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
from commitments.models import Commitment, Milestone
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
# ``due``: the commitments the next period's update would be due from (``rules.is_update_due`` of the state at the
# point); a quarter's updates due are its level at the point before, the quarter before's end. ``done``: a span
# starting fresh in the quarter whose state before made the update due.
_LEVELS = (
    "total",
    *STARTED,
    *DeliveryConfidence.values,
    "progress_reported",
    "progress_total",
    "spent",
    "overdue",
    "milestones_overdue",
    "due",
)
_FLOWS = ("fresh", *STORED_MOVEMENTS, "done")
_SUMS = (*_LEVELS, *_FLOWS)
# What ``_running`` gives at a point: the sums, with ``due`` (at the point before) and ``done`` as the figures.
_FIGURES = tuple({"due": "updates_due", "done": "updates_done"}.get(name, name) for name in _SUMS)
_CONFIDENCES = ("", *DeliveryConfidence.values)  # "" is unrated

# The states a span can hold, the first the state of a commitment with no update (``rules.NO_UPDATE_STATE``).
_STATE_VALUES = [(rules.NO_UPDATE_STATE.status, rules.NO_UPDATE_STATE.confidence)] + [
    pair
    for pair in itertools.product(DeliveryStatus.values, _CONFIDENCES)
    if pair != (rules.NO_UPDATE_STATE.status, rules.NO_UPDATE_STATE.confidence)
]
_STATE_LEVELS = (*STARTED, *DeliveryConfidence.values)  # the levels a state counts in, one each
_CHANGE_LEVELS = (*_STATE_LEVELS, "due")  # what a change of state adds to the levels

_DATES, _STATES, _CHANGES = "onepass_dates", "onepass_states", "onepass_changes"
_COVERING, _EVENTS, _MEMBERS = "onepass_covering", "onepass_events", "onepass_members"


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
                scope_states.setdefault(TRACKER_KEY, {"_label": None} | dict.fromkeys(_FIGURES, 0))
            if item.previous_end is None:  # no movement is measured in the first quarter
                for row in scope_states.values():
                    for name in STORED_MOVEMENTS:
                        row.pop(name, None)
                    # Nothing before it: an update is due from every commitment, and done where fresh.
                    row["updates_due"], row["updates_done"] = row.get("total", 0), row.get("fresh", 0)
            results.extend(assemble(scope, population, scope_states, money[item.quarter][population][scope.scope_type]))
        yield item.quarter, results


# --- the lookups: every rule decided in Python, handed to the database as small tables ----------------------


def _fill_lookups(points: list[date], quarters: Sequence[QuarterDays]) -> None:
    """Number each date the spans and target dates hold by the points it reaches; tabulate states and changes."""
    start_of = {item.day: item.quarter.start for item in quarters}
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT starts FROM {_table(DeliverySpan)} UNION SELECT ends FROM {_table(DeliverySpan)} "
            f"UNION SELECT target_date FROM {_table(Commitment)} UNION SELECT due_on FROM {_table(Milestone)} "
            f"UNION SELECT done_on FROM {_table(Milestone)}"
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
            # The first point a milestone due on ``day`` is overdue on, while not done.
            falls_due = _first(
                points, lambda point, day=day: rules.is_milestone_overdue(due_on=day, done_on=None, day=point)
            )
            # The first point a milestone done on ``day`` is no longer overdue on, however long it was due.
            done = _first(
                points,
                lambda point, day=day: not rules.is_milestone_overdue(due_on=date.min, done_on=day, day=point),
            )
            rows.append((day, covers, overdue, int(fresh), falls_due, done))
        cursor.executemany(
            f"INSERT INTO {_DATES} (day, covers, overdue, fresh, falls_due, done) VALUES (%s, %s, %s, %s, %s, %s)",
            rows,
        )
        # Each state a span can hold, numbered; the first is the state of a commitment with no update yet.
        cursor.executemany(
            f"INSERT INTO {_STATES} (state, status, confidence, unfinished, due) VALUES (%s, %s, %s, %s, %s)",
            [
                (number, status, confidence, int(_unfinished(status)), int(_due(number, status)))
                for number, (status, confidence) in enumerate(_STATE_VALUES)
            ],
        )
        # What each change of state (from one numbered state to another) adds to the levels and the movement.
        changes: list[tuple[Any, ...]] = []
        for (number_before, before), (number_after, after) in itertools.product(enumerate(_STATE_VALUES), repeat=2):
            moved = rules.movement(
                status_before=before[0], confidence_before=before[1], status_after=after[0], confidence_after=after[1]
            )
            levels = [int(after[0] == status) - int(before[0] == status) for status in STARTED]
            levels += [int(after[1] == value) - int(before[1] == value) for value in DeliveryConfidence.values]
            levels.append(int(_due(number_after, after[0])) - int(_due(number_before, before[0])))
            movement = [int(getattr(moved, name)) for name in STORED_MOVEMENTS]
            changes.append((number_before * len(_STATE_VALUES) + number_after, *levels, *movement))
        columns = ", ".join(("change", *_CHANGE_LEVELS, *STORED_MOVEMENTS))
        marks = ", ".join(["%s"] * (1 + len(_CHANGE_LEVELS) + len(STORED_MOVEMENTS)))
        cursor.executemany(f"INSERT INTO {_CHANGES} ({columns}) VALUES ({marks})", changes)


def _unfinished(status: str) -> bool:
    """Whether a commitment of this status is overdue once its target date has passed (``rules.is_overdue``)."""
    return rules.is_overdue(target_date=date.min, status=status, day=date.max)


def _due(number: int, status: str) -> bool:
    """Whether the next period's update is due from a commitment in this numbered state (``rules.is_update_due``).

    The first state is that of a commitment with no approved update (no status, not started).
    """
    return rules.is_update_due(status_before=None if number == 0 else status)


def _first(points: list[date], holds: Any) -> int | None:
    """The index of the first point at which the (monotone) condition ``holds``, or None."""
    index = bisect.bisect_left(points, True, key=holds)
    return index if index < len(points) else None


# --- the events: one pass over the spans ------------------------------------------------------------------


def _fill_events() -> None:
    """Write each covering span's change of state, each commitment's overdue from its target date, its milestones'.

    A span ends the day the next one starts, so the span a covering span takes over from at its first
    point is the covering span before it (none, for the first): one event per covering span gives both
    what stops counting and what starts, and the movement between them.
    """
    spans, commitments, milestones = _table(DeliverySpan), _table(Commitment), _table(Milestone)
    states = len(_STATE_VALUES)
    with connection.cursor() as cursor:
        _analyze(cursor, _DATES, _STATES, _CHANGES)
        # The spans that cover at least one point, with the points they cover: from ``first`` to before ``stop``,
        # their numbered state, and the point their commitment's target date makes it overdue from (``due``).
        cursor.execute(
            f"INSERT INTO {_COVERING} (commitment_id, first, stop, state, unfinished, update_due, progress, spent, "
            f"fresh, due) SELECT s.commitment_id, a.covers, b.covers, st.state, st.unfinished, st.due, s.progress, "
            f"s.spent, a.fresh, t.overdue FROM {spans} s JOIN {_DATES} a ON a.day = s.starts "
            f"LEFT JOIN {_DATES} b ON b.day = s.ends "
            f"JOIN {_STATES} st ON st.status = s.status AND st.confidence = s.confidence "
            f"JOIN {commitments} k ON k.id = s.commitment_id LEFT JOIN {_DATES} t ON t.day = k.target_date "
            f"WHERE a.covers IS NOT NULL AND (b.covers IS NULL OR a.covers < b.covers)"
        )
        _analyze(cursor, _COVERING)
        # A span starts covering: the change from the state before it, counted at its first point. Overdue
        # changes with it once the target date has passed; progress, spending and fresh are its own. The quarter's
        # update is done by a fresh span if the state it takes over from (at the point before) made it due.
        columns = "commitment_id, point, change, fresh, reported, progress, spent, overdue, done, milestones"
        cursor.execute(
            f"INSERT INTO {_EVENTS} ({columns}) "
            f"SELECT commitment_id, first, COALESCE(state_before, 0) * {states} + state, fresh, "
            f"CASE WHEN progress IS NULL THEN 0 ELSE 1 END - CASE WHEN progress_before IS NULL THEN 0 ELSE 1 END, "
            f"COALESCE(progress, 0) - COALESCE(progress_before, 0), COALESCE(spent, 0) - COALESCE(spent_before, 0), "
            f"CASE WHEN due < first THEN unfinished - COALESCE(unfinished_before, 1) ELSE 0 END, "
            f"fresh * COALESCE(update_due_before, {int(_due(0, ''))}), 0 "
            f"FROM (SELECT c.*, LAG(state) OVER w AS state_before, LAG(unfinished) OVER w AS unfinished_before, "
            f"      LAG(update_due) OVER w AS update_due_before, "
            f"      LAG(progress) OVER w AS progress_before, LAG(spent) OVER w AS spent_before "
            f"      FROM {_COVERING} c WINDOW w AS (PARTITION BY commitment_id ORDER BY first)) c"
        )
        # Overdue from the point the target date passes, if the state then (none: not started) is unfinished.
        cursor.execute(
            f"INSERT INTO {_EVENTS} ({columns}) SELECT k.id, t.overdue, NULL, 0, 0, 0, 0, 1, 0, 0 FROM {commitments} k "
            f"JOIN {_DATES} t ON t.day = k.target_date LEFT JOIN {_COVERING} c ON c.commitment_id = k.id "
            f"AND c.first <= t.overdue AND (c.stop IS NULL OR t.overdue < c.stop) "
            f"WHERE t.overdue IS NOT NULL AND (c.unfinished IS NULL OR c.unfinished = 1)"
        )
        # A milestone is overdue from the point it falls due to the point it is done, if it is done after that.
        cursor.execute(
            f"INSERT INTO {_EVENTS} ({columns}) "
            f"SELECT commitment_id, point, NULL, 0, 0, 0, 0, 0, 0, milestones FROM ("
            f"  SELECT m.commitment_id, a.falls_due AS point, 1 AS milestones, b.done AS stop FROM {milestones} m "
            f"  JOIN {_DATES} a ON a.day = m.due_on LEFT JOIN {_DATES} b ON b.day = m.done_on "
            f"  UNION ALL "
            f"  SELECT m.commitment_id, b.done AS point, -1 AS milestones, a.falls_due AS stop FROM {milestones} m "
            f"  JOIN {_DATES} a ON a.day = m.due_on JOIN {_DATES} b ON b.day = m.done_on"
            f") m WHERE point IS NOT NULL AND (milestones = 1 AND (stop IS NULL OR point < stop) "
            f"OR milestones = -1 AND stop IS NOT NULL AND stop < point)"
        )
        _analyze(cursor, _EVENTS)


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
    thousand groups) rather than sorted by every key and label; each change of state adds to the levels and
    the movement what the lookup of changes says. A group's commitments count from the first point.
    """
    select, params = members.query.sql_with_params()
    group = ["_published", "_deal_published_on", KIND, *labels]
    quoted = ", ".join(f"m.{connection.ops.quote_name(name)}" for name in group)
    sums = dict.fromkeys(_SUMS, "0")  # "total" is added from the count of each group's commitments
    sums |= {name: f"SUM(c.{name})" for name in _CHANGE_LEVELS}
    sums |= {name: f"SUM(e.{name})" for name in ("fresh", "spent", "overdue", "done")}
    sums["milestones_overdue"] = "SUM(e.milestones)"
    sums |= {"progress_reported": "SUM(e.reported)", "progress_total": "SUM(e.progress)"}
    # No movement at the first point: nothing is measured before it.
    sums |= {name: f"SUM(CASE WHEN e.point > 0 THEN c.{name} ELSE 0 END)" for name in STORED_MOVEMENTS}
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {_MEMBERS}")
        cursor.execute(
            f"CREATE TEMPORARY TABLE {_MEMBERS} AS SELECT m.{connection.ops.quote_name('_id')} AS commitment_id, "
            f"DENSE_RANK() OVER (ORDER BY {quoted}) AS grp, {quoted} FROM ({select}) m",
            params,
        )
        _analyze(cursor, _MEMBERS)
        cursor.execute(f"SELECT grp, {quoted}, COUNT(*) FROM {_MEMBERS} m GROUP BY grp, {quoted}")
        numbered = cursor.fetchall()
        keys, counts = {row[0]: row[1:-1] for row in numbered}, {row[0]: row[-1] for row in numbered}
        cursor.execute(
            f"SELECT m.grp, e.point, {', '.join(sums.values())} "
            f"FROM {_EVENTS} e JOIN {_MEMBERS} m ON m.commitment_id = e.commitment_id "
            f"LEFT JOIN {_CHANGES} c ON c.change = e.change GROUP BY m.grp, e.point"
        )
        groups: dict[tuple[Any, ...], dict[int, list[Any]]] = defaultdict(dict)
        rows = cursor.fetchall()
        cursor.execute(f"DROP TABLE IF EXISTS {_MEMBERS}")
    total, due = _SUMS.index("total"), _SUMS.index("due")
    for grp, point, *values in rows:
        groups[_group_key(keys[grp])][point] = values
    for grp, count in counts.items():
        at_first = groups[_group_key(keys[grp])].setdefault(0, [0] * len(_SUMS))
        at_first[total] = count
        # With no approved update a commitment is not started: the next period's update is due from it.
        at_first[due] = (at_first[due] or 0) + count * int(_due(0, ""))
    return groups


def _group_key(key: tuple[Any, ...]) -> tuple[Any, ...]:
    published, deal_published_on, kind, *rest = key
    if isinstance(deal_published_on, str):
        deal_published_on = date.fromisoformat(deal_published_on)  # SQLite hands dates back as text
    return (bool(published), deal_published_on, kind, *rest)


def _analyze(cursor: Any, *tables: str) -> None:
    # Fresh statistics, so that PostgreSQL sums a few thousand groups in memory rather than sorting on disk.
    if connection.vendor == "postgresql":
        for table in tables:
            cursor.execute(f"ANALYZE {table}")


def _running(sums: dict[int, list[Any]], count: int) -> Iterator[tuple[int, dict[str, Any]]]:
    """Each point's figures: the levels summed over the events up to it, the flows at it (``_FIGURES``).

    The updates due at a point are the level ``due`` at the point before (its quarter's previous end).
    """
    levels: list[Any] = [0] * len(_LEVELS)
    spent, due = _LEVELS.index("spent"), _LEVELS.index("due")
    for point in range(count):
        due_before = levels[due]
        events = sums.get(point)
        flows = [0] * len(_FLOWS)
        if events is not None:
            for index in range(len(_LEVELS)):
                value = events[index] or 0
                levels[index] += _decimal(value) if index == spent else value
            flows = [value or 0 for value in events[len(_LEVELS) :]]
        yield point, dict(zip(_FIGURES, [*levels[:due], due_before, *levels[due + 1 :], *flows], strict=True))


def _decimal(value: Any) -> Decimal:
    # SQLite sums decimals as floats: read back to the cent, as the ORM's decimal converter does.
    return (value if isinstance(value, Decimal) else Decimal(str(value))).quantize(CENT)


def _add(totals: dict[str, Any], row: dict[str, Any]) -> None:
    for name in _FIGURES:
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
    levels = ", ".join(f"{name} INTEGER NOT NULL" for name in (*_CHANGE_LEVELS, *STORED_MOVEMENTS))
    tables = {
        _DATES: "day DATE NOT NULL PRIMARY KEY, covers INTEGER, overdue INTEGER, fresh INTEGER NOT NULL, "
        "falls_due INTEGER, done INTEGER",
        _STATES: "state INTEGER NOT NULL PRIMARY KEY, status VARCHAR(20) NOT NULL, confidence VARCHAR(20) NOT NULL, "
        "unfinished INTEGER NOT NULL, due INTEGER NOT NULL",
        _CHANGES: f"change INTEGER NOT NULL PRIMARY KEY, {levels}",
        _COVERING: "commitment_id BIGINT NOT NULL, first INTEGER NOT NULL, stop INTEGER, state INTEGER NOT NULL, "
        "unfinished INTEGER NOT NULL, update_due INTEGER NOT NULL, progress INTEGER, spent NUMERIC, "
        "fresh INTEGER NOT NULL, due INTEGER",
        _EVENTS: "commitment_id BIGINT NOT NULL, point INTEGER NOT NULL, change INTEGER, fresh INTEGER NOT NULL, "
        "reported INTEGER NOT NULL, progress INTEGER NOT NULL, spent NUMERIC NOT NULL, overdue INTEGER NOT NULL, "
        "done INTEGER NOT NULL, milestones INTEGER NOT NULL",
    }
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql" and connection.in_atomic_block:
            # Short statements over a few million rows: compiling them costs more than it saves.
            cursor.execute("SET LOCAL jit = off")
            cursor.execute("SET LOCAL work_mem = '256MB'")
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

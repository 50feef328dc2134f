"""Add changes to the live figures' rows, many quarters and scopes in one statement.

The incremental path (``metrics.services.markers_process``) knows, for each quarter, population and scope a marked
commitment reaches, by how much each figure moves. An approval usually moves one quarter; an edit of the
commitment itself (its target date, its area, its money) can move every quarter since the deal. One
``UPDATE ... FROM (VALUES ...)`` per batch of rows keeps that a single round trip with its values passed
as parameters, instead of one ORM ``Case``/``When`` update per quarter, whose building alone cost more
than the database's work. Django's ORM cannot join an update to a list of values, so the SQL lives here,
written once for both databases (PostgreSQL, and SQLite from 3.35: ``UPDATE ... FROM`` and
``RETURNING``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from django.db import connection

from metrics.models import Basis, QuarterMetric

#: Rows of values per statement: well inside SQLite's limit of 32,766 parameters at every figure.
BATCH_ROWS = 500

RowKey = tuple[int, str, str, str]  # (reporting quarter id, population, scope type, scope key)


def live_rows_add(*, changes: Mapping[RowKey, Mapping[str, Any]], computed_at: datetime) -> set[RowKey]:
    """Add each change (figure name to amount) to the live row of its quarter, population and scope.

    Returns the rows found: a row missing from the result has no stored row yet, and the caller computes that
    scope in full.
    """
    found: set[RowKey] = set()
    items = [(key, change) for key, change in changes.items() if any(change.values())]
    for start in range(0, len(items), BATCH_ROWS):
        found |= _add(items[start : start + BATCH_ROWS], computed_at)
    return found


def _add(items: list[tuple[RowKey, Mapping[str, Any]]], computed_at: datetime) -> set[RowKey]:
    if not items:
        return set()
    quote = connection.ops.quote_name
    names = sorted({name for _, change in items for name, amount in change.items() if amount})
    columns = {field.name: quote(field.column) for field in QuarterMetric._meta.concrete_fields if field.name in names}
    # The list's columns are named apart from the table's, so no name is ambiguous on either database.
    value_columns = ", ".join(["c_quarter", "c_population", "c_type", "c_key", *(f"d_{name}" for name in names)])
    row = "(" + ", ".join(["%s"] * (4 + len(names))) + ")"
    params: list[Any] = []
    for (quarter_id, population, scope_type, scope_key), change in items:
        params.extend([quarter_id, population, scope_type, scope_key, *(change.get(name, 0) for name in names)])
    sets = ", ".join([f"{quote('computed_at')} = %s", *(f"{columns[n]} = {columns[n]} + d_{n}" for n in names)])
    sql = (
        f"WITH change ({value_columns}) AS (VALUES {', '.join([row] * len(items))}) "  # noqa: S608 - our columns
        f"UPDATE {quote(QuarterMetric._meta.db_table)} SET {sets} FROM change "
        f"WHERE {quote('quarter_id')} = c_quarter AND {quote('population')} = c_population "
        f"AND {quote('scope_type')} = c_type AND {quote('scope_key')} = c_key AND {quote('basis')} = %s "
        f"RETURNING {quote('quarter_id')}, {quote('population')}, {quote('scope_type')}, {quote('scope_key')}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, connection.ops.adapt_datetimefield_value(computed_at), Basis.LIVE])
        rows = cursor.fetchall()
    return {(quarter_id, population, scope_type, key) for quarter_id, population, scope_type, key in rows}

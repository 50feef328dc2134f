"""Writing the delivery spans (``metrics.models.DeliverySpan``) from the approved updates, in the database.

The spans are the engine's span query (``engine.span_rows``) stored; no row passes through Python.
``spans_rewrite`` writes some commitments' spans again (the outbox, a recompute of some commitments).
``spans_correct`` is the nightly rebuild's: it computes every span into a temporary table and applies only
the differences, deleting the spans no longer right and inserting the missing ones, so a rebuild that finds
the spans right (as the outbox keeps them) writes nothing, leaves the indexes alone and holds no reader up.
"""

# ruff: noqa: S608  (every name put into the SQL is the model's or this module's; values are parameters)
from __future__ import annotations

from collections.abc import Collection

from django.db import connection

from metrics.engine import SPAN_COLUMNS, span_rows
from metrics.models import DeliverySpan

_NEW_SPANS = "metrics_new_spans"  # every span as the updates give it, to compare with those stored


def spans_rewrite(commitment_ids: Collection[int]) -> int:
    """Delete and write again the spans of ``commitment_ids``; return how many were written."""
    spans = DeliverySpan.objects.filter(commitment_id__in=commitment_ids)
    spans._raw_delete(spans.db)  # derived rows that nothing depends on: no signals or cascades to run
    select, params = span_rows(commitment_ids).query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {_table()} ({_columns()}) {select}", params)
        return cursor.rowcount


def spans_correct() -> int:
    """Make every span what the approved updates give; return how many were deleted or inserted to do so."""
    table = _table()
    select, params = span_rows().query.sql_with_params()
    fields = {field.column: field for field in DeliverySpan._meta.local_fields}
    definitions = ", ".join(f"{column} {fields[column].db_type(connection)}" for column in SPAN_COLUMNS)
    # Matched on the update (one span each), every column compared, missing values alike.
    same = " AND ".join(f"(s.{c} = n.{c} OR (s.{c} IS NULL AND n.{c} IS NULL))" for c in SPAN_COLUMNS)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql" and connection.in_atomic_block:
            # One sort of every approved update: in memory rather than on disk, and not worth compiling.
            cursor.execute("SET LOCAL work_mem = '256MB'")
            cursor.execute("SET LOCAL jit = off")
        cursor.execute(f"DROP TABLE IF EXISTS {_NEW_SPANS}")
        cursor.execute(f"CREATE TEMPORARY TABLE {_NEW_SPANS} ({definitions})")
        try:
            cursor.execute(f"INSERT INTO {_NEW_SPANS} ({_columns()}) {select}", params)
            wanted = cursor.rowcount
            if connection.vendor == "postgresql":
                cursor.execute(f"ANALYZE {_NEW_SPANS}")
            cursor.execute(
                f"DELETE FROM {table} AS s WHERE NOT EXISTS "
                f"(SELECT 1 FROM {_NEW_SPANS} n WHERE n.update_id = s.update_id AND {same})"
            )
            corrected = cursor.rowcount
            cursor.execute(f"SELECT COUNT(*) FROM {table}")
            if corrected == 0 and cursor.fetchone()[0] == wanted:
                # Each stored span matched one wanted (one span an update), and there are as many: none is missing.
                return 0
            cursor.execute(
                f"INSERT INTO {table} ({_columns()}) SELECT {', '.join(f'n.{c}' for c in SPAN_COLUMNS)} "
                f"FROM {_NEW_SPANS} n WHERE NOT EXISTS (SELECT 1 FROM {table} s WHERE s.update_id = n.update_id "
                f"AND {same})"
            )
            corrected += cursor.rowcount
        finally:
            cursor.execute(f"DROP TABLE IF EXISTS {_NEW_SPANS}")
    return corrected


def _table() -> str:
    return connection.ops.quote_name(DeliverySpan._meta.db_table)


def _columns() -> str:
    return ", ".join(connection.ops.quote_name(column) for column in SPAN_COLUMNS)

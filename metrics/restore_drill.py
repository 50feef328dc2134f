"""The restore drill: a backup is restored into a fresh database, which is then proved whole.

The drill dumps the service's database (or takes an existing dump), restores it into a new database on the
same server, and compares the two. The source is only read: its facts are gathered in one read-only
transaction whose snapshot ``pg_dump`` shares, so even a database in use is compared with exactly the moment
dumped. The restored database is examined by a separate process started with ``DATABASE_URL`` naming it
(``restored_facts`` runs there), so nothing the drill does can reach the source through Django's connection.

What the restored database must show:

* every table holds as many rows as the source's (the models', their many-to-many and history tables,
  the audit log, and every other table of the schema);
* every commitment's stored delivery state agrees with its approved updates (``verify_delivery_state``);
* a full recompute of the figures changes none of the stored figures, field by field;
* the history is intact: each history table's newest record, and the newest history records of a sample of
  commitments, are those of the source; the audit log's newest entries likewise.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django.apps import apps
from django.conf import settings
from django.contrib.admin.models import LogEntry
from django.db import connection, transaction

from commitments.models import Commitment
from commitments.periods import Quarter
from lsis.core.backups import (
    database_create,
    database_drop,
    database_dump,
    database_restore,
    database_url,
    row_counts,
)
from metrics.engine import FIGURE_FIELDS
from metrics.models import QuarterMetric, ReportingQuarter
from metrics.rules import delivery_state_mismatches
from metrics.services import metrics_recompute

# How many commitments' newest history records are compared (those with the most recent changes).
HISTORY_SAMPLE = 25
AUDIT_SAMPLE = 25
# Differences listed per check; the count says how many there were in all.
SHOWN = 10
ROOT = Path(__file__).resolve().parent.parent
# The drill's databases are named so; the examination, which writes (figures, ``--damage``), runs in no other.
DRILL_PREFIX = "lsis_drill_"


@dataclass(frozen=True)
class Check:
    """One thing the drill proved, or failed to: its name, whether it held, and what was found."""

    name: str
    passed: bool
    detail: str


@dataclass
class DrillReport:
    """What the drill did and found."""

    source: str
    restored: str
    dump: Path
    dump_bytes: int = 0
    dump_seconds: float | None = None
    restore_seconds: float = 0.0
    check_seconds: float = 0.0
    tables: int = 0
    rows: int = 0
    figures_compared: int = 0
    kept: bool = False
    checks: list[Check] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """Whether every check held (and there was at least one)."""
        return bool(self.checks) and all(check.passed for check in self.checks)


def _plain(value: Any) -> Any:
    """``value`` as JSON carries it, the same on both sides of the comparison."""
    if value is None or isinstance(value, bool | int | str):
        return value
    return str(value)


def _history_models() -> list[Any]:
    """The history models (``simple_history``'s ``Historical…``), sorted by table."""
    models = [model for model in apps.get_models() if hasattr(model, "instance_type")]
    return sorted(models, key=lambda model: model._meta.db_table)


def _history_facts() -> dict[str, Any]:
    """The newest record of every history table, and the newest records of the commitments changed last."""
    newest = {}
    for model in _history_models():
        # The history tables' keys (history_id, m2m_history_id) grow with each record written.
        latest = model.objects.order_by("-pk").values().first()
        newest[model._meta.db_table] = {name: _plain(value) for name, value in (latest or {}).items()}
    history = Commitment.history.model
    sample_ids = list(
        history.objects.order_by("-history_date", "-history_id")
        .values_list("id", flat=True)
        .distinct()[: HISTORY_SAMPLE * 10]
    )
    commitments: dict[str, Any] = {}
    for commitment_id in sample_ids:
        if str(commitment_id) in commitments:
            continue
        latest = history.objects.filter(id=commitment_id).order_by("-history_date", "-history_id").values().first()
        commitments[str(commitment_id)] = {name: _plain(value) for name, value in (latest or {}).items()}
        if len(commitments) == HISTORY_SAMPLE:
            break
    audit = [
        {name: _plain(value) for name, value in row.items()}
        for row in LogEntry.objects.order_by("-action_time", "-id").values()[:AUDIT_SAMPLE]
    ]
    return {"newest": newest, "commitments": commitments, "audit": audit}


def _counts() -> dict[str, int]:
    with connection.cursor() as cursor:
        return row_counts(cursor)


def _model_tables() -> list[str]:
    """Every table the models name: their own, their many-to-many tables and their history tables."""
    tables = set()
    for model in apps.get_models(include_auto_created=True):
        if model._meta.managed and not model._meta.proxy:
            tables.add(model._meta.db_table)
    return sorted(tables)


def source_facts() -> dict[str, Any]:
    """The facts of the database Django is connected to, read in the current transaction."""
    return {"counts": _counts(), "history": _history_facts()}


def _stored_figures() -> tuple[dict[str, dict[str, Any]], dict[str, str | None]]:
    """Every stored figures row, keyed by quarter, basis, population and scope; each quarter's ``live_as_of``."""
    rows = {}
    for row in QuarterMetric.objects.values(
        "quarter__year",
        "quarter__number",
        "basis",
        "population",
        "scope_type",
        "scope_key",
        "scope_label",
        *FIGURE_FIELDS,
    ):
        key = "{} {} {} {} {}".format(
            Quarter(row.pop("quarter__year"), row.pop("quarter__number")).label,
            row.pop("basis"),
            row.pop("population"),
            row.pop("scope_type"),
            row.pop("scope_key"),
        )
        rows[key] = {name: _plain(value) for name, value in row.items()}
    days = {
        quarter.quarter.label: (quarter.live_as_of.isoformat() if quarter.live_as_of else None)
        for quarter in ReportingQuarter.objects.all()
    }
    return rows, days


def figures_differences(before: dict[str, dict[str, Any]], after: dict[str, dict[str, Any]]) -> tuple[list[str], int]:
    """Where two sets of stored figures differ, field by field; and how many rows were compared."""
    differences = []
    for key in sorted(before.keys() | after.keys()):
        if key not in after:
            differences.append(f"{key}: stored, but a recompute gives no such row")
        elif key not in before:
            differences.append(f"{key}: a recompute gives a row that was not stored")
        else:
            differences.extend(
                f"{key} {name}: stored {before[key][name]}, recomputed {after[key][name]}"
                for name in before[key]
                if before[key][name] != after[key][name]
            )
    return differences, len(before)


def restored_facts(*, damage: str | None = None) -> dict[str, Any]:
    """Examine the database Django is connected to (the restored one): its facts, then the checks that write.

    Run in the drill's separate process. ``damage``, a SQL statement run first, lets the drill itself be
    tested: the checks must then fail. Counts and history are read before the recompute writes figures.
    """
    if damage:
        with connection.cursor() as cursor:
            cursor.execute(damage)
    facts = source_facts()
    facts["model_tables"] = _model_tables()
    facts["delivery_state"] = [
        f"{item.reference}: stored {item.stored}, approved updates give {item.derived}"
        for item in delivery_state_mismatches()
    ]
    before, days_before = _stored_figures()
    metrics_recompute()
    after, days_after = _stored_figures()
    differences, compared = figures_differences(before, after)
    # A quarter in progress whose stored figures describe an earlier day than today's recompute differs by the
    # days between, not by any fault: its live rows are left out and named.
    moved = sorted(label for label, day in days_before.items() if day != days_after.get(label))
    if moved:
        prefixes = tuple(f"{label} live " for label in moved)
        differences = [item for item in differences if not item.startswith(prefixes)]
    facts["figures"] = {
        "compared": compared,
        "differences": differences,
        "moved": {label: days_before[label] for label in moved},
    }
    return facts


def _listed(items: list[str]) -> str:
    shown = "; ".join(items[:SHOWN])
    return shown + (f"; and {len(items) - SHOWN} more" if len(items) > SHOWN else "")


def compare(report: DrillReport, source: Mapping[str, Any], restored: Mapping[str, Any]) -> None:
    """Add to ``report`` the checks comparing the source's facts with the restored database's."""
    counts, restored_counts = source["counts"], restored["counts"]
    report.tables = len(counts)
    report.rows = sum(counts.values())
    unequal = [
        f"{table}: {counts.get(table, 'absent')} in the source, {restored_counts.get(table, 'absent')} restored"
        for table in sorted(counts.keys() | restored_counts.keys())
        if counts.get(table) != restored_counts.get(table)
    ]
    # A model's table the source lacks too is a migration not applied there, not a fault of the backup.
    unmigrated = [table for table in restored["model_tables"] if table not in counts]
    detail = _listed(unequal) or f"{report.tables} tables, {report.rows:,} rows, equal"
    if unmigrated:
        detail += "; models with no table in the source (migrations not applied?): " + ", ".join(unmigrated)
    elif not unequal:
        detail += " (every model's table among them)"
    report.checks.append(Check("row counts", not unequal, detail))
    mismatches = restored["delivery_state"]
    report.checks.append(
        Check(
            "delivery state",
            not mismatches,
            _listed(mismatches)
            or f"all {restored_counts.get(Commitment._meta.db_table, 0)} commitments agree with their updates",
        )
    )
    figures = restored["figures"]
    report.figures_compared = figures["compared"]
    detail = _listed(figures["differences"]) or (
        f"{figures['compared']:,} stored figure rows equal to a full recompute, field by field"
    )
    if figures["moved"]:
        detail += "; live rows left out, describing an earlier day: " + ", ".join(
            f"{label} ({day})" for label, day in figures["moved"].items()
        )
    report.checks.append(
        Check(
            "figures",
            figures["compared"] > 0 and not figures["differences"],
            detail if figures["compared"] else "no stored figures to compare: run recompute_metrics on the source",
        )
    )
    history, restored_history = source["history"], restored["history"]
    lost = [
        f"{table}: newest record differs"
        for table in sorted(history["newest"].keys() | restored_history["newest"].keys())
        if history["newest"].get(table) != restored_history["newest"].get(table)
    ]
    lost += [
        f"commitment {key}: newest history record differs"
        for key in history["commitments"]
        if history["commitments"][key] != restored_history["commitments"].get(key)
    ]
    if history["audit"] != restored_history["audit"]:
        lost.append("audit log: newest entries differ")
    report.checks.append(
        Check(
            "history",
            not lost,
            _listed(lost)
            or (
                f"{len(history['newest'])} history tables' newest records, {len(history['commitments'])} "
                f"commitments' newest records and the {len(history['audit'])} newest audit log entries equal"
            ),
        )
    )


def _examine(restored: Mapping[str, Any], damage: str | None) -> dict[str, Any]:
    """Run ``restore_drill --examine`` in a process connected to the restored database; return its facts."""
    environment = {
        **os.environ,
        "DATABASE_URL": database_url(restored),
        # The examination recomputes figures: nothing it does may reach the service's broker or cache.
        "CELERY_BROKER_URL": "",
        "CACHE_URL": "locmemcache://",
    }
    command = [sys.executable, str(ROOT / "manage.py"), "restore_drill", "--examine"]
    if damage:
        command += ["--damage", damage]
    done = subprocess.run(  # noqa: S603 (our own interpreter and manage.py)
        command, cwd=ROOT, env=environment, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"Examining the restored database failed:\n{done.stderr.strip()[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def drill_run(
    *,
    dump: Path | None = None,
    keep: bool = False,
    damage: str | None = None,
    progress: Callable[[str], None] = lambda line: None,
) -> DrillReport:
    """Back up (or take ``dump``), restore into a fresh database, examine it, compare; drop it unless ``keep``."""
    import time

    source_database = settings.DATABASES["default"]
    name = f"{DRILL_PREFIX}{datetime.now(UTC):%Y%m%d%H%M%S}_{secrets.token_hex(3)}"
    with tempfile.TemporaryDirectory(prefix="lsis-drill-") as folder:
        path = dump or Path(folder) / f"{source_database['NAME']}.dump"
        report = DrillReport(source=str(source_database["NAME"]), restored=name, dump=path)
        # One read-only transaction: its snapshot is what pg_dump dumps and what the source's facts are read from.
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                if dump is None:
                    cursor.execute("SELECT pg_export_snapshot()")
                    snapshot = cursor.fetchone()[0]
                    progress(f"Dumping {report.source}…")
                    result = database_dump(database=source_database, output=path, snapshot=snapshot)
                    report.dump_seconds = result.seconds
            facts = source_facts()
        report.dump_bytes = path.stat().st_size
        restored = database_create(database=source_database, name=name)
        try:
            progress(f"Restoring into {name}…")
            report.restore_seconds = database_restore(database=restored, source=path).seconds
            progress("Examining the restored database…")
            started = time.monotonic()
            compare(report, facts, _examine(restored, damage))
            report.check_seconds = time.monotonic() - started
        finally:
            if keep:
                report.kept = True
            else:
                database_drop(database=restored)
    return report

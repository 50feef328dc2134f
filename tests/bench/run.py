"""Time the spreadsheet import of status updates, as the admin runs it, against a plain bulk insert.

In a throwaway database (Django's test-database machinery; SQLite by default, PostgreSQL when
``DATABASE_URL`` names one) holding synthetic data only, it writes an update file of 10,000 rows (CSV
and Excel, fixed random seed) and times:

(a) the baseline: the same drafts inserted with ``StatusUpdate.objects.bulk_create`` in one transaction;
(b) the dry run, as staff start it: uploading the file to the admin's import page, which reads it,
    checks every row (cells, commitments, existing updates, the model's validation) and renders the
    preview, writing nothing;
(c) the committed import: confirming that preview, which checks the file again and writes every row
    through the workflow services (``update_create_many``), in one transaction.

It prints the figures with the ratio of each to (a), how much of (c) the workflow service takes, the
machine, and whether the goal is met. The benchmark always exits 0: it measures, it does not judge.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import django
import import_export
from django.conf import settings
from django.db import connection, transaction
from django.test import Client
from django.urls import reverse

from commitments import imports
from commitments.models import Commitment, StatusUpdate, UpdateState
from metrics.synthetic import DEAL_CODE, LABEL
from tests.bench import synthetic

GOAL_ROWS = 10_000
GOAL_SECONDS = 15.0
DEFAULT_SEED = 20170830  # the Life Sciences Industrial Strategy was published on 30 August 2017

IMPORT_URL = "admin:commitments_statusupdate_import"
PROCESS_URL = "admin:commitments_statusupdate_process_import"


@dataclass
class Timing:
    """One measured step."""

    label: str
    seconds: float
    note: str = ""


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=GOAL_ROWS, help="rows in the update file (default 10000)")
    parser.add_argument("--commitments", type=int, default=2000, help="synthetic commitments (default 2000)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"random seed (default {DEFAULT_SEED})")
    parser.add_argument("--keep-files", metavar="DIR", help="write the update files here and keep them")
    return parser.parse_args(argv)


def run(argv: list[str]) -> int:
    """Create the throwaway database, measure, report, and drop the database again."""
    load_at_start = os.getloadavg()[0]
    options = _parse(argv)
    settings.DEBUG = False  # no query log: it would slow every step down and skew the ratios
    files_dir = Path(options.keep_files or tempfile.mkdtemp(prefix="lsis-bench-"))
    files_dir.mkdir(parents=True, exist_ok=True)
    sqlite_file = None
    if connection.vendor == "sqlite":
        # A real file, like the SQLite database staff run locally, rather than an in-memory one.
        sqlite_file = files_dir / "bench.sqlite3"
        connection.settings_dict.setdefault("TEST", {})["NAME"] = str(sqlite_file)
    print(f"Creating a throwaway {connection.vendor} database and migrating it...", flush=True)
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False, serialize=False)
    try:
        timings, checks = _measure(options, files_dir)
        _report(options, timings, checks, load_at_start)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0, keepdb=False)
        if sqlite_file is not None:
            for leftover in (Path(f"{sqlite_file}-wal"), Path(f"{sqlite_file}-shm")):
                leftover.unlink(missing_ok=True)
        if not options.keep_files:
            shutil.rmtree(files_dir, ignore_errors=True)
    return 0


def _timed(action: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    outcome = action()
    return time.perf_counter() - start, outcome


def _measure(options: argparse.Namespace, files_dir: Path) -> tuple[list[Timing], list[str]]:
    print(f"Creating {options.commitments:,} synthetic commitments under “{LABEL}”...", flush=True)
    funded = synthetic.create_synthetic_data(commitments=options.commitments, seed=options.seed)
    editor = synthetic.create_editor()
    updates = synthetic.synthetic_updates(
        rows=options.rows, commitments=options.commitments, seed=options.seed, funded=funded
    )
    csv_path = synthetic.write_csv(updates, files_dir / "synthetic-updates.csv")
    xlsx_path = synthetic.write_xlsx(updates, files_dir / "synthetic-updates.xlsx")
    print(f"Wrote {len(updates):,} rows to {csv_path.name} and {xlsx_path.name} (seed {options.seed}).", flush=True)
    timings: list[Timing] = []
    checks: list[str] = []

    baseline = _baseline(updates, editor)
    timings.append(Timing("(a) baseline: bulk_create of the same drafts, one transaction", baseline))

    client = Client()
    client.force_login(editor)
    dry_seconds, confirm_data = _timed(lambda: _upload(client, xlsx_path))
    timings.append(Timing("(b) dry run: upload to the admin, check every row, preview", dry_seconds, "xlsx"))
    written_before = StatusUpdate.objects.count()
    with _time_spent_in(imports, "update_create_many") as in_service:
        commit_seconds, _ = _timed(lambda: _confirm(client, confirm_data))
    timings.append(Timing("(c) committed import: confirm the preview", commit_seconds, "xlsx"))
    timings.append(Timing("    of which in services.update_create_many", in_service[0], "xlsx"))
    drafts = StatusUpdate.objects.filter(author=editor, state=UpdateState.DRAFT)
    checks.append(
        f"after (c): {drafts.count():,} drafts by the importing user (expected {len(updates):,}; "
        f"{written_before:,} updates existed before confirming)"
    )

    csv_seconds, _ = _timed(lambda: _upload(client, csv_path))
    timings.append(Timing("    dry run of the same rows as CSV (all unchanged now)", csv_seconds, "csv"))
    again_dry, again_data = _timed(lambda: _upload(client, xlsx_path))
    again_commit, _ = _timed(lambda: _confirm(client, again_data))
    timings.append(Timing("    re-import of the same file: dry run + confirm", again_dry + again_commit, "xlsx"))
    checks.append(
        f"after re-importing: {drafts.count():,} drafts (no duplicates), "
        f"{StatusUpdate.objects.filter(author=editor).exclude(version=1).count():,} of them saved again"
    )
    return timings, checks


@contextmanager
def _time_spent_in(module: Any, name: str) -> Iterator[list[float]]:
    """Add up the time spent in ``module.name`` while the block runs (the import calls it once per row)."""
    spent = [0.0]
    original = getattr(module, name)

    def timed(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            spent[0] += time.perf_counter() - start

    setattr(module, name, timed)
    try:
        yield spent
    finally:
        setattr(module, name, original)


def _baseline(updates: list[synthetic.SyntheticUpdate], editor: Any) -> float:
    """Insert the drafts the file holds with one bulk_create, timed; then remove them (not timed)."""
    ids = dict(Commitment.objects.filter(deal__code=DEAL_CODE).values_list("reference", "pk"))
    drafts = [
        StatusUpdate(
            commitment_id=ids[update.reference],
            as_of=update.as_of,
            status=update.status,
            confidence=update.confidence,
            progress=update.progress,
            narrative=update.narrative,
            funding_spent=update.funding_spent,
            author=editor,
            created_by=editor,
            modified_by=editor,
            state=UpdateState.DRAFT,
        )
        for update in updates
    ]

    def insert() -> None:
        with transaction.atomic():
            StatusUpdate.objects.bulk_create(drafts)

    seconds, _ = _timed(insert)
    inserted = StatusUpdate.objects.filter(author=editor).count()
    if inserted != len(updates):
        raise RuntimeError(f"baseline inserted {inserted} drafts, expected {len(updates)}")
    # bulk_create wrote no history, links or log entries, so a plain DELETE removes all it wrote.
    with connection.cursor() as cursor:
        table = connection.ops.quote_name(StatusUpdate._meta.db_table)
        cursor.execute(f"DELETE FROM {table} WHERE author_id = %s", [editor.pk])  # noqa: S608
    return seconds


def _upload(client: Client, path: Path) -> dict[str, str]:
    """Upload the file to the admin's import page; return the confirm form's fields."""
    format_index = str([str(f().get_title()) for f in settings.IMPORT_EXPORT_FORMATS].index(path.suffix[1:]))
    with path.open("rb") as handle:
        response = client.post(reverse(IMPORT_URL), {"format": format_index, "import_file": handle})
    page = response.content.decode()
    if response.status_code != 200 or 'name="import_file_name"' not in page:
        problems = re.findall(r"<li>(Row [^<]+)</li>", page)[:5]
        raise RuntimeError(f"the dry run of {path.name} was refused (HTTP {response.status_code}): {problems}")
    fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', page))
    return {name: fields.get(name, "") for name in ("import_file_name", "original_file_name", "format", "resource")}


def _confirm(client: Client, confirm_data: dict[str, str]) -> None:
    response = client.post(reverse(PROCESS_URL), confirm_data)
    if response.status_code != 302:
        raise RuntimeError(f"confirming the import failed (HTTP {response.status_code})")


def _database() -> str:
    if connection.vendor == "sqlite":
        import sqlite3

        return f"SQLite {sqlite3.sqlite_version} (file)"
    if connection.vendor == "postgresql":
        version = connection.pg_version  # type: ignore[attr-defined]
        host = connection.settings_dict.get("HOST") or "the local socket"
        return f"PostgreSQL {version // 10000}.{version % 10000} at {host}"
    return connection.vendor


def _report(options: argparse.Namespace, timings: list[Timing], checks: list[str], load_at_start: float) -> None:
    baseline = timings[0].seconds
    width = max(len(timing.label) for timing in timings)
    print()
    print(f"Spreadsheet import benchmark: {options.rows:,} status update rows, {options.commitments:,} commitments")
    print(
        f"machine:  {os.cpu_count()} cores, {platform.machine()}, {platform.system()} {platform.release()}; "
        f"load average {load_at_start:.2f} at the start, {os.getloadavg()[0]:.2f} at the end "
        "(other work on the machine slows every step)"
    )
    print(
        f"software: Python {platform.python_version()}, Django {django.get_version()}, "
        f"django-import-export {import_export.__version__}"
    )
    print(f"database: {_database()}")
    print()
    print(f"{'step'.ljust(width)}  {'file':>4}  {'seconds':>8}  {'ratio':>7}")
    print(f"{'-' * width}  {'-' * 4}  {'-' * 8}  {'-' * 7}")
    for timing in timings:
        ratio = timing.seconds / baseline if baseline else float("nan")
        print(f"{timing.label.ljust(width)}  {timing.note:>4}  {timing.seconds:8.2f}  {ratio:7.1f}")
    print()
    for check in checks:
        print(f"check: {check}")
    limit = GOAL_SECONDS * options.rows / GOAL_ROWS
    scaled = "" if options.rows == GOAL_ROWS else f", scaled to {options.rows:,} rows: {limit:.1f} s"
    print()
    print(f"goal: 10,000 rows import in under {GOAL_SECONDS:.0f} s (each of the dry run and the import{scaled})")
    for timing in timings[1:3]:
        verdict = "met" if timing.seconds <= limit else "NOT MET"
        print(f"  {timing.label.split(':')[0]} {timing.seconds:.1f} s: {verdict}")
    sys.stdout.flush()

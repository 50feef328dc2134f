"""What the page benchmarks (dashboards, search) share: a throwaway database per size, and timings."""

from __future__ import annotations

import math
import os
import platform
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import django
from django.db import connection


@dataclass
class Timing:
    """One measured request, repeated: its label, each time taken, and the queries it ran."""

    label: str
    seconds: list[float] = field(default_factory=list)
    queries: int = 0

    def percentile(self, share: float) -> float:
        """The given percentile of the timings (nearest rank)."""
        ordered = sorted(self.seconds)
        return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


@contextmanager
def throwaway_database(*, size: int, name: str) -> Iterator[None]:
    """A database of its own for one size, migrated, dropped afterwards (a file of its own on SQLite)."""
    sqlite_file = None
    if connection.vendor == "sqlite":
        sqlite_file = Path(tempfile.mkdtemp(prefix="lsis-bench-")) / f"{name}.sqlite3"
        connection.settings_dict.setdefault("TEST", {})["NAME"] = str(sqlite_file)
    print(f"\n[{size:,}] creating a throwaway {connection.vendor} database and migrating it...", flush=True)
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False, serialize=False)
    try:
        yield
    finally:
        connection.close()
        connection.creation.destroy_test_db(old_name, verbosity=0, keepdb=False)
        if sqlite_file is not None:
            for leftover in sqlite_file.parent.glob("*"):
                leftover.unlink(missing_ok=True)
            sqlite_file.parent.rmdir()


def database_name() -> str:
    """The database the benchmark runs on, with its version."""
    if connection.vendor == "postgresql":
        version = connection.pg_version  # type: ignore[attr-defined]
        return f"PostgreSQL {version // 10000}.{version % 10000}"
    import sqlite3

    return f"SQLite {sqlite3.sqlite_version} (file)"


def print_header(title: str, *, load: float, notes: list[str]) -> None:
    """The report's title, the machine and software it ran on, and the notes taken while preparing it."""
    print()
    print(title)
    print(
        f"machine:  {os.cpu_count()} cores, {platform.machine()}, {platform.system()} {platform.release()}; "
        f"load average {load:.2f} at the start, {os.getloadavg()[0]:.2f} at the end"
    )
    print(f"software: Python {platform.python_version()}, Django {django.get_version()}; database: {database_name()}")
    for note in notes:
        print(f"note:     {note}")

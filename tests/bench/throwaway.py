"""What the page benchmarks (dashboards, search) share: a throwaway database per size, and timings."""

from __future__ import annotations

import math
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

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

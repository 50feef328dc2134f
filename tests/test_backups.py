"""Backups: a dump restores to the same rows, a restore is all or nothing, and the restore drill proves a copy whole.

The commands run as the operator runs them, as processes with ``DATABASE_URL`` naming a database. The dump is
of the session's seeded test database (committed, so another process sees it); the drill's source is a copy of
it with every quarter's figures computed, which the seeded database does not hold. Nothing here writes to the
session's database.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from lsis.core.backups import database_url, row_counts
from tests.celery_worker import ROOT, Database
from tests.helpers import SUITE_ON_POSTGRESQL

NOT_POSTGRESQL = "pg_dump and pg_restore back up PostgreSQL; SQLite is backed up as a file"
F = TypeVar("F", bound=Callable[..., Any])


def on_postgresql(test: F) -> F:
    """Run ``test`` on PostgreSQL only, with the session's test database set up and seeded (the source's origin).

    The tests work on their own databases through other processes; ``django_db`` is what has pytest-django
    create the session's database, which the source is copied from.
    """
    skipped = pytest.mark.skipif(not SUITE_ON_POSTGRESQL, reason=NOT_POSTGRESQL)(test)
    return pytest.mark.postgres(pytest.mark.django_db(skipped))


def run(database: Database, *args: str) -> subprocess.CompletedProcess[str]:
    """``manage.py`` with ``DATABASE_URL`` naming ``database``, tasks in-process, as an operator runs it."""
    environment = {**os.environ, "DATABASE_URL": database.url, "CELERY_BROKER_URL": ""}
    return subprocess.run(  # noqa: S603 (our own interpreter and manage.py)
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


def counts(database: Database) -> dict[str, int]:
    connection = database.connect()
    try:
        with connection.cursor() as cursor:
            return row_counts(cursor)
    finally:
        connection.close()


def fresh(name: str) -> Database:
    database = Database(database_url(settings.DATABASES["default"]), f"lsis_test_backups_{name}_{secrets.token_hex(3)}")
    database.create()
    return database


@pytest.fixture(scope="module")
def session_database(django_db_setup: Any) -> Database:
    """The session's seeded test database (only read here)."""
    return Database(database_url(settings.DATABASES["default"]), str(settings.DATABASES["default"]["NAME"]))


@pytest.fixture(scope="module")
def dump(session_database: Database, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A dump of the seeded data, made with backup_database into a folder that does not exist yet."""
    path = tmp_path_factory.mktemp("backups") / "nightly" / "lsis.dump"
    done = run(session_database, "backup_database", "--output", str(path))
    assert done.returncode == 0, done.stderr
    assert f"to {path}:" in done.stdout
    assert "bytes in" in done.stdout
    return path


@pytest.fixture(scope="module")
def source(dump: Path) -> Iterator[Database]:
    """A copy of the seeded data with every quarter's figures computed, as a service's database holds them."""
    database = fresh("source")
    try:
        assert run(database, "restore_database", "--input", str(dump)).returncode == 0
        done = run(database, "recompute_metrics")
        assert done.returncode == 0, done.stderr
        yield database
    finally:
        database.drop()


@pytest.fixture
def target() -> Iterator[Database]:
    database = fresh("target")
    yield database
    database.drop()


@on_postgresql
def test_a_dump_restores_into_a_fresh_database_with_every_row_and_not_over_them_without_replace(
    session_database: Database, dump: Path, target: Database
) -> None:
    done = run(target, "restore_database", "--input", str(dump))

    assert done.returncode == 0, done.stderr
    assert f"into {target.name}" in done.stdout
    original = counts(session_database)
    assert counts(target) == original
    assert original["commitments_commitment"] > 100
    assert original["commitments_historicalcommitment"] > 100
    # Only the dump itself is left in its folder: it was written to a temporary file, then renamed.
    assert [path.name for path in dump.parent.iterdir()] == ["lsis.dump"]

    again = run(target, "restore_database", "--input", str(dump))

    assert again.returncode == 1
    assert f"The database {target.name} is not empty" in again.stderr
    assert "--replace" in again.stderr
    assert counts(target) == original

    replaced = run(target, "restore_database", "--input", str(dump), "--replace")

    assert replaced.returncode == 0, replaced.stderr
    assert counts(target) == original


@on_postgresql
def test_a_truncated_dump_fails_clearly_and_leaves_the_target_empty(
    dump: Path, target: Database, tmp_path: Path
) -> None:
    truncated = tmp_path / "truncated.dump"
    # The table of contents at the start survives, so the restore begins and fails part-way through the data.
    truncated.write_bytes(dump.read_bytes()[: dump.stat().st_size * 9 // 10])

    done = run(target, "restore_database", "--input", str(truncated))

    assert done.returncode == 1
    assert f"Restoring {truncated} into {target.name} failed (pg_restore exited 1)" in done.stderr
    assert "nothing of it was kept" in done.stderr
    assert counts(target) == {}


@on_postgresql
def test_a_file_that_is_not_a_dump_is_refused_before_the_database_is_touched(target: Database, tmp_path: Path) -> None:
    garbage = tmp_path / "notes.dump"
    garbage.write_text("not a dump")

    done = run(target, "restore_database", "--input", str(garbage))

    assert done.returncode == 1
    assert "does not appear to be a valid archive" in done.stderr
    assert counts(target) == {}


def drill_databases(database: Database) -> set[str]:
    connection = database.connect()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT datname FROM pg_database WHERE datname LIKE 'lsis_drill_%'")
            return {row[0] for row in cursor.fetchall()}
    finally:
        connection.close()


@on_postgresql
@pytest.mark.slow
def test_the_restore_drill_proves_a_backup_whole_and_prints_its_figures(source: Database) -> None:
    before, drills = counts(source), drill_databases(source)

    done = run(source, "restore_drill")

    assert done.returncode == 0, done.stdout + done.stderr
    for figure in ("dump:", "restore:", "tables:", "rows:", "figures:"):
        assert figure in done.stdout
    for check in ("row counts", "delivery state", "figures", "history"):
        assert f"PASS {check}:" in done.stdout
    assert "FAIL" not in done.stdout
    assert "restored database dropped" in done.stdout
    # The source was only read, and the drill's database is gone.
    assert counts(source) == before
    assert drill_databases(source) == drills


@on_postgresql
@pytest.mark.slow
def test_the_restore_drill_catches_a_restored_database_that_is_not_whole(source: Database) -> None:
    damage = (
        "DELETE FROM commitments_historicalcommitment"
        " WHERE history_id = (SELECT max(history_id) FROM commitments_historicalcommitment);"
        " UPDATE metrics_quartermetric SET delivered = delivered + 1"
        " WHERE id = (SELECT min(id) FROM metrics_quartermetric WHERE basis = 'live')"
    )

    done = run(source, "restore_drill", "--damage", damage)

    assert done.returncode == 1
    assert "FAIL row counts: commitments_historicalcommitment:" in done.stdout
    assert "FAIL history: commitments_historicalcommitment: newest record differs" in done.stdout
    assert "FAIL figures:" in done.stdout
    assert "delivered: stored" in done.stdout
    assert "PASS delivery state:" in done.stdout
    assert "The restore drill failed: 3 check(s)." in done.stderr


@on_postgresql
def test_the_drills_examination_which_writes_refuses_a_database_other_than_a_drills(target: Database) -> None:
    done = run(target, "restore_drill", "--examine", "--damage", "CREATE TABLE damage (id integer)")

    assert done.returncode == 1
    assert f"--examine runs only in a drill's database (lsis_drill_…), not in {target.name}" in done.stderr
    assert counts(target) == {}


@pytest.mark.skipif(SUITE_ON_POSTGRESQL, reason="the advice given on SQLite")
def test_on_sqlite_backup_database_says_how_to_back_up_the_file(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match=r"SQLite: back it up by copying its file.*\.backup"):
        call_command("backup_database", "--output", str(tmp_path / "x.dump"))
    assert not (tmp_path / "x.dump").exists()

"""Migrations one instance at a time: ``migrate`` takes a PostgreSQL advisory lock first (docs/health.md).

The PostgreSQL tests create an empty database of their own, run ``manage.py migrate`` against it as a
deployment would, and drop it afterwards.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.management import get_commands, load_command_class

from lsis.core.management.commands.migrate import MIGRATE_LOCK_KEY
from tests.celery_worker import ROOT, Database, query, wait_until
from tests.helpers import SUITE_ON_POSTGRESQL

on_postgresql = pytest.mark.skipif(
    not (SUITE_ON_POSTGRESQL and os.environ.get("DATABASE_URL")),
    reason="needs DATABASE_URL=postgres://... (the tests create and drop a database of their own)",
)
WAITING = "Waiting for another instance to finish migrating..."


def test_migrate_is_the_projects_command_with_the_lock() -> None:
    # An installed app's command wins over django.core's: manage.py, call_command and the test database's
    # creation all run this one.
    assert get_commands()["migrate"] == "lsis.core"
    assert "advisory lock" in load_command_class("lsis.core", "migrate").help


@pytest.fixture
def empty_database() -> Iterator[Database]:
    database = Database(os.environ["DATABASE_URL"], f"lsis_migrate_{os.getpid()}_{uuid.uuid4().hex[:8]}")
    database.create()
    try:
        yield database
    finally:
        database.drop()


def _migrate(database: Database, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "DATABASE_URL": database.url, "DJANGO_SETTINGS_MODULE": "lsis.settings.test"}
    return subprocess.Popen(  # noqa: S603 (our own interpreter and manage.py)
        [sys.executable, "manage.py", "migrate", "--no-input", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


# Advisory locks in this database only: the suite's other workers take their own in theirs at the same time.
_THIS_DATABASES_ADVISORY_LOCKS = (
    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"
    " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
)


def _waiting_for_the_lock(conn: Any) -> bool:
    rows = query(conn, _THIS_DATABASES_ADVISORY_LOCKS + " AND NOT granted")
    return rows[0][0] == 1


@pytest.mark.slow
@pytest.mark.postgres
@on_postgresql
def test_a_migrate_waits_while_another_instance_holds_the_lock(empty_database: Database) -> None:
    holder = empty_database.connect()
    query(holder, "SELECT pg_advisory_lock(%s)", [MIGRATE_LOCK_KEY])
    process = _migrate(empty_database, "contenttypes")
    try:
        wait_until(lambda: _waiting_for_the_lock(holder), timeout=60, what="the migrate to wait for the lock")
        assert process.stdout is not None
        assert process.stdout.readline().strip() == WAITING
        # Nothing has been applied while it waits: not even the table of applied migrations exists.
        assert process.poll() is None
        assert query(holder, "SELECT to_regclass('django_migrations')") == [(None,)]
        query(holder, "SELECT pg_advisory_unlock(%s)", [MIGRATE_LOCK_KEY])
        output, _ = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        holder.close()
    assert process.returncode == 0, output
    assert "Applying contenttypes.0001_initial... OK" in output
    conn = empty_database.connect()
    try:
        # Released: nobody holds it any more (the migrate's session ended, and it unlocked first).
        assert query(conn, _THIS_DATABASES_ADVISORY_LOCKS) == [(0,)]
    finally:
        conn.close()


@pytest.mark.slow
@pytest.mark.postgres
@on_postgresql
def test_two_instances_migrating_at_once_apply_each_migration_once(empty_database: Database) -> None:
    processes = [_migrate(empty_database), _migrate(empty_database)]
    try:
        outputs = [process.communicate(timeout=600)[0] for process in processes]
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
    assert [process.returncode for process in processes] == [0, 0], outputs
    waited = [output for output in outputs if WAITING in output]
    assert len(waited) == 1, outputs
    # The one that waited found everything applied by the other.
    assert "No migrations to apply." in waited[0]
    conn = empty_database.connect()
    try:
        rows, distinct = query(conn, "SELECT count(*), count(DISTINCT (app, name)) FROM django_migrations")[0]
    finally:
        conn.close()
    assert rows == distinct > 0

"""A real Celery worker with a PostgreSQL database and a Redis database of its own, for the reliability tests.

``tests/test_celery_reliability.py`` uses the helpers here to create, migrate and seed a database, run
``manage.py`` commands against it, start a worker as a subprocess, watch its log, find and kill its pool
process, and read the stored figures with a plain database connection.

Run as ``python -m tests.celery_worker approve --commitment ID --as-of YYYY-MM-DD`` with the worker's
environment, this module plays the application: it writes, submits and approves a status update through
``commitments.services`` in transactions that commit, so the recompute task is enqueued as in production.
It prints one line of JSON saying what it approved and when.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import IO, Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
T = TypeVar("T")

# Columns of metrics_quartermetric that are not figures: compared rows leave them out.
NOT_FIGURES = {"id", "quarter_id", "computed_at"}
# The tasks the tests send and look for in the worker's log.
MARKER_TASK = "metrics.recompute_pending"
REBUILD_TASK = "metrics.rebuild_all"


class WaitTimeoutError(Exception):
    """Something the tests waited for did not happen in time.

    Neither this nor ``UnexpectedStateError`` is an AssertionError: a test marked ``xfail(raises=AssertionError)``
    then expects only its own assertion to fail, not the machinery around it.
    """


class UnexpectedStateError(Exception):
    """A step the tests rely on did not go as it should (see ``WaitTimeoutError``)."""


def expect(condition: object, message: str) -> None:
    """Raise ``UnexpectedStateError`` with ``message`` unless ``condition`` holds."""
    if not condition:
        raise UnexpectedStateError(message)


def wait_until(predicate: Callable[[], T | None], *, timeout: float, what: str, interval: float = 0.02) -> T:
    """Call ``predicate`` until it returns something truthy, and return that; give up after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise WaitTimeoutError(f"Gave up after {timeout:.0f} s waiting for {what}.")
        time.sleep(interval)


def with_path(url: str, path: str) -> str:
    """``url`` with its path (database name, Redis database number) replaced."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, parts.fragment))


def private_redis_url(broker_url: str, *, spare: bool = False) -> str:
    """A Redis database of the tests' own on the broker's server, never the one the suite itself uses.

    One pair per process of a parallel run (pytest-xdist's ``PYTEST_XDIST_WORKER``: gw0, gw1, ...), counting
    down from 15: each process's real worker then has a queue no other process empties or reads. ``spare``
    is the pair's second database, for a test that starts a worker of its own beside the stack's.
    """
    current = int(urlsplit(broker_url).path.strip("/") or "0")
    process = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or "0")
    free = [number for number in range(15, -1, -1) if number != current]
    index = 2 * process + int(spare)
    if index >= len(free):
        raise RuntimeError(f"Redis has no database left for test process {process}: run fewer processes (-n)")
    return with_path(broker_url, f"/{free[index]}")


def manage(env: Mapping[str, str], *args: str, timeout: float = 300) -> str:
    """Run ``manage.py`` with ``env``; return its output, or fail with its errors."""
    done = subprocess.run(  # noqa: S603 (our own interpreter and manage.py)
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done.stdout


def send_task(broker_url: str, name: str) -> str:
    """Publish a task by name to ``broker_url``, as beat or another process would; return its id.

    The connection is made here: Celery would prefer the environment's CELERY_BROKER_URL to any URL it is given.
    """
    from celery import Celery
    from kombu import Connection

    sender = Celery("lsis-test-sender", set_as_current=False)
    try:
        with Connection(broker_url, connect_timeout=5) as connection:
            return sender.send_task(name, connection=connection).id
    finally:
        sender.close()


# --- The database ------------------------------------------------------------------------------------


class Database:
    """A PostgreSQL database on the server ``server_url`` names, created and dropped by the tests."""

    def __init__(self, server_url: str, name: str) -> None:
        self.name = name
        self.url = with_path(server_url, f"/{name}")
        self.server_url = with_path(server_url, "/postgres")

    def _admin(self, statement: str) -> None:
        import psycopg2
        from psycopg2 import sql

        conn = psycopg2.connect(self.server_url)
        try:
            conn.autocommit = True
            with conn.cursor() as cursor:
                cursor.execute(sql.SQL(statement).format(sql.Identifier(self.name)))
        finally:
            conn.close()

    def create(self) -> None:
        self._admin("CREATE DATABASE {}")

    def drop(self) -> None:
        """Drop the database, ending any session still connected to it (an orphaned worker's, say)."""
        self._admin("DROP DATABASE IF EXISTS {} WITH (FORCE)")

    def connect(self, *, autocommit: bool = True) -> Any:
        import psycopg2

        conn = psycopg2.connect(self.url)
        conn.autocommit = autocommit
        return conn


def query(conn: Any, statement: str, params: Any = ()) -> list[tuple[Any, ...]]:
    with conn.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.fetchall() if cursor.description else []


def pending_markers(conn: Any, commitment_id: int | None = None) -> int:
    """How many recompute markers are pending (for one commitment, or all)."""
    if commitment_id is None:
        return query(conn, "SELECT count(*) FROM metrics_recomputemarker")[0][0]
    return query(conn, "SELECT count(*) FROM metrics_recomputemarker WHERE commitment_id = %s", [commitment_id])[0][0]


def reporting_quarters(conn: Any) -> list[tuple[int, int]]:
    return [(year, number) for year, number in query(conn, "SELECT year, number FROM metrics_reportingquarter")]


def live_figure(
    conn: Any, quarter: tuple[int, int], scope_type: str, scope_key: str, column: str, population: str = "all"
) -> Any:
    """One figure of one live row (of ``population``: every kind of commitment by default), or None if there is none."""
    rows = query(
        conn,
        f"SELECT qm.{column} FROM metrics_quartermetric qm JOIN metrics_reportingquarter rq ON rq.id = qm.quarter_id"  # noqa: S608
        " WHERE rq.year = %s AND rq.number = %s AND qm.basis = 'live' AND qm.scope_type = %s AND qm.scope_key = %s"
        " AND qm.population = %s",
        [*quarter, scope_type, scope_key, population],
    )
    return rows[0][0] if rows else None


def lock_live_row(
    conn: Any, quarter: tuple[int, int], scope_type: str, scope_key: str, population: str = "all"
) -> None:
    """In ``conn``'s open transaction, lock one live row so that a writer of it waits (``FOR UPDATE``).

    The writers write both populations' rows in the same statements, so locking one row of either holds them.
    """
    locked = query(
        conn,
        "SELECT qm.id FROM metrics_quartermetric qm JOIN metrics_reportingquarter rq ON rq.id = qm.quarter_id"
        " WHERE rq.year = %s AND rq.number = %s AND qm.basis = 'live' AND qm.scope_type = %s AND qm.scope_key = %s"
        " AND qm.population = %s FOR UPDATE OF qm",
        [*quarter, scope_type, scope_key, population],
    )
    if len(locked) != 1:
        raise RuntimeError(f"Expected one live {scope_type}/{scope_key} row for {quarter}, found {len(locked)}.")


def snapshot(conn: Any) -> list[tuple[Any, ...]]:
    """Every stored row of figures, with its quarter, leaving out ids and ``computed_at``; sorted."""
    with conn.cursor() as cursor:
        cursor.execute(
            "SELECT rq.year, rq.number, qm.* FROM metrics_quartermetric qm"
            " JOIN metrics_reportingquarter rq ON rq.id = qm.quarter_id"
        )
        names = [column.name for column in cursor.description]
        keep = [index for index, name in enumerate(names) if name not in NOT_FIGURES]
        rows = [tuple(row[index] for index in keep) for row in cursor.fetchall()]
    return sorted(rows, key=repr)


@dataclass(frozen=True)
class Backend:
    pid: int
    query: str


def waiting_backends(conn: Any, *, exclude: Collection[int] = ()) -> list[Backend]:
    """Sessions on ``conn``'s database that wait for a lock, other than ``exclude`` and ``conn``'s own."""
    rows = query(
        conn,
        "SELECT pid, query FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        " AND wait_event_type = 'Lock'",
    )
    return [Backend(pid, text) for pid, text in rows if pid not in exclude]


def backend_pids(conn: Any) -> set[int]:
    """The sessions connected to ``conn``'s database."""
    return {pid for (pid,) in query(conn, "SELECT pid FROM pg_stat_activity WHERE datname = current_database()")}


def unused_commitment(conn: Any, *, published_by: date) -> tuple[int, str]:
    """A published commitment (one the figures count) with no status update at all, of a deal published by
    ``published_by``: its id and deal code. (The 2017 strategy's recommendations are loaded unpublished.)"""
    rows = query(
        conn,
        "SELECT c.id, d.code FROM commitments_commitment c JOIN commitments_document d ON d.id = c.deal_id"
        " WHERE d.published_on <= %s AND c.published"
        " AND NOT EXISTS (SELECT 1 FROM commitments_statusupdate s WHERE s.commitment_id = c.id)"
        " ORDER BY c.id LIMIT 1",
        [published_by],
    )
    if not rows:
        raise RuntimeError("No commitment without updates is left in the test database.")
    return rows[0]


# --- The worker --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Found:
    """A match in the worker's log, with its end as an offset into the whole log."""

    match: re.Match[str]
    end: int


class Worker:
    """A ``celery worker`` subprocess (prefork, one pool process) whose log goes to a file."""

    def __init__(self, env: Mapping[str, str], log_path: Path) -> None:
        self.env = dict(env)
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None
        self._log_file: IO[bytes] | None = None

    def start(self, *, timeout: float = 60) -> None:
        self._log_file = self.log_path.open("ab")
        self.process = subprocess.Popen(  # noqa: S603 (our own interpreter)
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "lsis",
                "worker",
                "--loglevel=INFO",
                "--pool=prefork",
                "--concurrency=1",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                f"--hostname=lsis-test-{os.getpid()}@%h",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.wait_for(r" ready\.", timeout=timeout)

    @property
    def pid(self) -> int:
        if self.process is None:
            raise UnexpectedStateError("The worker was not started.")
        return self.process.pid

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def find(self, pattern: str, *, after: int = 0) -> Found | None:
        log = self.log()
        match = re.compile(pattern).search(log, after)
        return Found(match, match.end()) if match else None

    def wait_for(self, pattern: str, *, after: int = 0, timeout: float = 30) -> Found:
        """Wait for a line matching ``pattern`` at or after offset ``after`` of the log."""

        def seen() -> Found | None:
            if not self.alive():
                raise RuntimeError(f"The worker exited ({self.process and self.process.returncode}):\n{self.log()}")
            return self.find(pattern, after=after)

        return wait_until(seen, timeout=timeout, what=f"/{pattern}/ in the worker's log ({self.log_path})")

    def children(self) -> list[int]:
        """The worker's pool processes."""
        return _children_of(self.pid)

    def stop(self) -> None:
        """Warm shutdown, then SIGKILL if it takes too long; then any pool process left."""
        if self.process is None:
            return
        children = _children_of(self.process.pid)
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        for pid in children:
            _kill_if_celery(pid)
        if self._log_file is not None:
            self._log_file.close()


@dataclass
class Stack:
    """A seeded database, a private Redis database and a worker using both."""

    database: Database
    broker_url: str
    env: dict[str, str]
    worker: Worker

    def connect(self, *, autocommit: bool = True) -> Any:
        return self.database.connect(autocommit=autocommit)

    def approve(self, *, commitment_id: int, as_of: date) -> subprocess.Popen[str]:
        """Start approving a new "delivered" update in a subprocess, as the application would."""
        command = ["approve", "--commitment", str(commitment_id), "--as-of", as_of.isoformat()]
        return subprocess.Popen(  # noqa: S603 (our own interpreter and module)
            [sys.executable, "-m", "tests.celery_worker", *command],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )


def _children_of(parent: int) -> list[int]:
    children = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # it has just exited
            continue
        # "pid (command) state ppid ...": the command may hold spaces and parentheses.
        if int(stat.rsplit(")", 1)[1].split()[1]) == parent:
            children.append(int(entry.name))
    return children


def _kill_if_celery(pid: int) -> None:
    try:
        if b"celery" in Path(f"/proc/{pid}/cmdline").read_bytes():
            os.kill(pid, signal.SIGKILL)
    except (OSError, ProcessLookupError):
        pass


def task_line(name: str, task_id: str | None, event: str) -> str:
    """A pattern of the worker's log line for a task (any, if ``task_id`` is None; its id is group ``id``).

    ``event`` is a pattern too: ``received``, ``succeeded in [\\d.]+s: 1``.
    """
    task = re.escape(task_id) if task_id is not None else r"[^\]]+"
    return rf"Task {re.escape(name)}\[(?P<id>{task})\] {event}"


# --- Playing the application -------------------------------------------------------------------------


def approve(*, commitment_id: int, as_of: date, status: str) -> dict[str, Any]:
    """Write, submit and approve an update by two new users, each step its own committed transaction."""
    from uuid import uuid4

    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from commitments import roles
    from commitments.models import Commitment
    from commitments.services import update_approve, update_create, update_submit

    tag = uuid4().hex[:8]
    users = get_user_model().objects
    editor = users.create_user(username=f"editor-{tag}")
    editor.groups.add(Group.objects.get(name=roles.EDITOR))
    reviewer = users.create_user(username=f"reviewer-{tag}")
    reviewer.groups.add(Group.objects.get(name=roles.REVIEWER))
    commitment = Commitment.objects.get(pk=commitment_id)
    update = update_create(
        commitment=commitment, author=editor, as_of=as_of, status=status, narrative="Reliability test."
    )
    update_submit(update=update, user=editor)
    started = time.time()
    update_approve(update=update, reviewer=reviewer)  # commits, then enqueues the recompute
    return {"update": update.pk, "commitment": commitment.pk, "started": started, "returned": time.time()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.celery_worker")
    commands = parser.add_subparsers(dest="command", required=True)
    approving = commands.add_parser("approve", help="Approve a new update of a commitment through the services.")
    approving.add_argument("--commitment", type=int, required=True, help="The commitment's id.")
    approving.add_argument("--as-of", type=date.fromisoformat, required=True)
    approving.add_argument("--status", default="delivered")
    args = parser.parse_args(argv)

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lsis.settings.test")
    import django

    django.setup()
    result = approve(commitment_id=args.commitment, as_of=args.as_of, status=args.status)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())

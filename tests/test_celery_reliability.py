"""Recomputing the figures is lossless: when the broker is down, and when a worker dies mid-task.

The broker-down tests run everywhere, SQLite included: Celery is pointed at a closed port, an update is
approved, and the outbox marker it leaves is processed by the sweep the beat job runs.

The real-worker tests need PostgreSQL and Redis (``DATABASE_URL`` and ``CELERY_BROKER_URL``). A worker
only sees committed data, and the session's test database is seeded once and must not be flushed, so
these tests create, migrate and seed a database of their own, run a real ``celery worker`` on it with a
Redis database of their own, drive it from subprocesses (``tests/celery_worker.py``) and drop both at
the end. Every wait is bounded.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.utils import timezone

from commitments import roles
from commitments.models import Commitment, StatusUpdate, UpdateState
from commitments.periods import Quarter
from commitments.services import update_approve, update_create, update_submit
from lsis.celery import app
from metrics import services as metric_services
from metrics.models import Basis, QuarterMetric, RecomputeMarker, ScopeType
from metrics.rules import Population
from metrics.services import figures_for, markers_process, metrics_recompute, quarters_until
from tests.celery_worker import (
    MARKER_TASK,
    REBUILD_TASK,
    Stack,
    WaitTimeoutError,
    backend_pids,
    expect,
    live_figure,
    lock_live_row,
    manage,
    pending_markers,
    query,
    reporting_quarters,
    send_task,
    snapshot,
    task_line,
    unused_commitment,
    wait_until,
    waiting_backends,
)

TRACKER = (ScopeType.TRACKER.value, "all")


# --- Broker down -------------------------------------------------------------------------------------


def _closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on: bound by the system, then released."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _forget_broker_connections() -> None:
    """Make the Celery app look its broker connection up again, so the next publish uses the URL now in force.

    Only references are dropped: kombu keeps pools per broker URL, process-wide, and a pool closed here would
    be handed out again for the same URL.
    """
    app._pool = None  # type: ignore[attr-defined]  # the app's producer pool: private, so not in Celery's stubs
    amqp = app.__dict__.get("amqp")
    if amqp is not None:
        amqp._producer_pool = None


@pytest.fixture
def broker_down(settings: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Celery not eager, with its broker on a closed port; the app's configuration is restored afterwards."""
    port = _closed_port()
    url = f"redis://127.0.0.1:{port}/0"
    overrides = {"broker_url": url, "task_always_eager": False}
    # The app reads Django's settings live, under its own changes: put those back exactly as they were.
    changes = app.conf.changes
    assert changes is not None, "a configured app keeps its changes"
    saved = {key: changes[key] for key in overrides if key in changes}
    settings.CELERY_BROKER_URL = url
    settings.CELERY_TASK_ALWAYS_EAGER = False
    # Celery reads CELERY_BROKER_URL from the environment before its configuration (CI sets it).
    monkeypatch.setenv("CELERY_BROKER_URL", url)
    _forget_broker_connections()
    app.conf.update(overrides)
    try:
        connection = app.connection_for_write()
        if (connection.hostname, connection.port) != ("127.0.0.1", port):
            raise RuntimeError(f"Celery would publish to {connection.as_uri()}, not to {url}")
        yield url
    finally:
        for key in overrides:
            changes.pop(key, None)
        app.conf.update(saved)
        _forget_broker_connections()


@pytest.fixture
def as_of() -> date:
    """The last day of the previous quarter: the approval changes the figures of two quarters, this one too."""
    return Quarter.containing(timezone.localdate()).previous().end


@pytest.fixture
def submitted(user_with_role: Any, as_of: date) -> tuple[StatusUpdate, Any]:
    """A submitted "delivered" update, as of ``as_of``, of a counted commitment with no other update; and a reviewer."""
    # Published, so that the figures count it (the 2017 strategy's recommendations are loaded unpublished).
    commitment = (
        Commitment.objects.published()
        .filter(deal__published_on__lte=as_of, updates__isnull=True)
        .order_by("pk")
        .first()
    )
    assert commitment is not None, "the seed data has no commitment without updates"
    editor = user_with_role(roles.EDITOR)
    update = update_create(
        commitment=commitment, author=editor, as_of=as_of, status="delivered", narrative="Delivered in full."
    )
    return update_submit(update=update, user=editor), user_with_role(roles.REVIEWER)


def _approve_timed(update: StatusUpdate, reviewer: Any, capture: Any) -> tuple[float, list[Any]]:
    """Approve in a transaction that commits (its on-commit callbacks run); return the seconds it took."""
    started = time.monotonic()
    with capture(execute=True) as callbacks:
        update_approve(update=update, reviewer=reviewer)
    return time.monotonic() - started, callbacks


def _live(quarter: Quarter, scope_type: str, scope_key: str) -> QuarterMetric:
    return QuarterMetric.objects.get(
        quarter__year=quarter.year,
        quarter__number=quarter.number,
        basis=Basis.LIVE,
        population=Population.ALL,
        scope_type=scope_type,
        scope_key=scope_key,
    )


def _stored(quarters: list[Quarter]) -> dict[tuple[Any, ...], dict[str, Any]]:
    rows = QuarterMetric.objects.filter(basis=Basis.LIVE).select_related("quarter")
    return {
        (row.quarter.quarter, row.population, row.scope_type, row.scope_key): {
            name: getattr(row, name) for name in ("scope_label", *metric_services.FIGURE_FIELDS)
        }
        for row in rows
        if row.quarter.quarter in quarters
    }


def _computed(quarters: list[Quarter]) -> dict[tuple[Any, ...], dict[str, Any]]:
    computed = {}
    for quarter in quarters:
        for item in figures_for(quarter):
            values = item.values()
            key = (quarter, values.pop("population"), values.pop("scope_type"), values.pop("scope_key"))
            computed[key] = values
    return computed


@pytest.mark.django_db
def test_approval_with_the_broker_down_leaves_a_marker_that_the_sweep_processes(
    broker_down: str,
    as_of: date,
    submitted: tuple[StatusUpdate, Any],
    django_capture_on_commit_callbacks: Any,
    caplog: Any,
) -> None:
    update, reviewer = submitted
    commitment = update.commitment
    quarter = Quarter.containing(as_of)
    affected = [each for each in quarters_until(timezone.localdate()) if each >= quarter]
    scopes = [TRACKER, (ScopeType.DEAL.value, commitment.deal.code)]
    metrics_recompute(quarters=affected)
    before = [_live(quarter, *scope).delivered for scope in scopes]

    with caplog.at_level(logging.WARNING, logger="metrics.services"):
        elapsed, callbacks = _approve_timed(update, reviewer, django_capture_on_commit_callbacks)

    # The approval stands; the enqueue was tried after the commit, failed, and did not hold it up for long.
    assert metric_services._enqueue_recompute in callbacks
    assert "Could not enqueue a metrics recompute" in caplog.text
    assert elapsed < 5, f"approving took {elapsed:.2f} s with the broker down"
    update.refresh_from_db()
    commitment.refresh_from_db()
    assert (update.state, commitment.delivery_status) == (UpdateState.APPROVED, "delivered")
    # The outbox holds the change; the figures do not show it yet.
    assert list(RecomputeMarker.objects.values_list("commitment_id", "from_date")) == [(commitment.pk, as_of)]
    assert [_live(quarter, *scope).delivered for scope in scopes] == before

    # The sweep (what the beat job runs) processes the marker and brings the figures up to date.
    assert markers_process() == 1
    assert not RecomputeMarker.objects.exists()
    assert [_live(quarter, *scope).delivered for scope in scopes] == [count + 1 for count in before]
    assert _stored(affected) == _computed(affected)


@pytest.mark.django_db
def test_approval_with_the_broker_down_takes_under_a_second(
    broker_down: str, submitted: tuple[StatusUpdate, Any], django_capture_on_commit_callbacks: Any
) -> None:
    update, reviewer = submitted
    elapsed, callbacks = _approve_timed(update, reviewer, django_capture_on_commit_callbacks)
    assert metric_services._enqueue_recompute in callbacks
    assert RecomputeMarker.objects.filter(commitment_id=update.commitment_id).exists()
    assert elapsed < 1, f"approving took {elapsed:.2f} s with the broker down"


# --- A real worker, on PostgreSQL and Redis ----------------------------------------------------------


def _real_worker_unavailable() -> str:
    """Why the real-worker tests cannot run here, or "" if they can."""
    if not os.environ.get("CELERY_BROKER_URL", "").startswith("redis://"):
        return "needs CELERY_BROKER_URL=redis://... (a real worker needs a broker)"
    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql" or not os.environ.get("DATABASE_URL"):
        return "needs DATABASE_URL=postgres://... (a database of the tests' own, which a worker can share)"
    if not sys.platform.startswith("linux"):
        return "finds the worker's pool process through /proc (Linux only)"
    return ""


_real_worker_skip = pytest.mark.skipif(bool(_real_worker_unavailable()), reason=_real_worker_unavailable() or "-")


def needs_real_worker(test: Callable[..., None]) -> Callable[..., None]:
    """Skipped where no real worker can run; marked slow, as a real worker takes seconds per test."""
    return pytest.mark.slow(_real_worker_skip(test))


CORRUPTION = 1000  # added to every stored "delivered" figure to make the stored figures wrong


def _finished(process: subprocess.Popen[str], *, timeout: float = 120) -> dict[str, Any]:
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        raise
    if process.returncode != 0:
        raise RuntimeError(f"approving failed ({process.returncode}):\n{out}\n{err}")
    return json.loads(out.strip().splitlines()[-1])


def _today() -> date:
    return datetime.now(ZoneInfo(settings.TIME_ZONE)).date()


@needs_real_worker
def test_an_approval_is_in_the_figures_within_ten_seconds(live: Stack) -> None:
    conn = live.connect()
    try:
        today = _today()
        quarter = Quarter.containing(today)
        commitment_id, deal_code = unused_commitment(conn, published_by=today)
        scopes = [TRACKER, (ScopeType.DEAL.value, deal_code)]
        before = [live_figure(conn, (quarter.year, quarter.number), *scope, "delivered") for scope in scopes]
        offset = len(live.worker.log())

        def fresh() -> float | None:
            now = time.time()
            figures = [live_figure(conn, (quarter.year, quarter.number), *scope, "delivered") for scope in scopes]
            done = figures == [count + 1 for count in before] and pending_markers(conn, commitment_id) == 0
            return now if done else None

        approving = live.approve(commitment_id=commitment_id, as_of=today)
        fresh_at = wait_until(fresh, timeout=60, what="the approval to show in the figures")
        approved = _finished(approving)
    finally:
        conn.close()

    latency = fresh_at - approved["started"]
    returned = approved["returned"] - approved["started"]
    print(f"approval to fresh figures: {latency:.3f} s (the approval itself returned after {returned:.3f} s)")
    assert live.worker.find(task_line(MARKER_TASK, None, r"succeeded in [\d.]+s: 1\b"), after=offset)
    assert latency < 10, f"the figures took {latency:.1f} s to show the approval"


def _eventually(predicate: Any, *, timeout: float) -> bool:
    """Whether ``predicate`` comes true within ``timeout`` s."""
    try:
        wait_until(predicate, timeout=timeout, what="a condition")
    except WaitTimeoutError:
        return False
    return True


def _max_delivered(conn: Any) -> int:
    return query(conn, "SELECT coalesce(max(delivered), 0) FROM metrics_quartermetric WHERE basis = 'live'")[0][0]


def _kill_pool_process(live: Stack, *, after: int) -> int:
    """SIGKILL the worker's one pool process (the parent survives); return the log offset of the loss."""
    children = live.worker.children()
    expect(len(children) == 1, f"expected one pool process, found {children}")
    os.kill(children[0], signal.SIGKILL)
    return live.worker.wait_for(r"WorkerLostError", after=after).end


@needs_real_worker
def test_a_rebuild_killed_mid_write_is_redelivered_and_leaves_the_figures_of_a_clean_rebuild(live: Stack) -> None:
    conn = live.connect()
    holder = live.connect(autocommit=False)
    try:
        quarters = sorted(reporting_quarters(conn))
        first, middle = quarters[0], quarters[len(quarters) // 2]
        # The stored figures are wrong, as after lost updates: only a complete rebuild puts them right.
        query(conn, "UPDATE metrics_quartermetric SET delivered = delivered + %s WHERE basis = 'live'", [CORRUPTION])
        # Hold one row of a middle quarter, so the rebuild is caught mid-way, having rewritten the earlier ones.
        lock_live_row(holder, middle, *TRACKER)
        holder_pid = holder.get_backend_pid()
        offset = len(live.worker.log())
        task_id = send_task(live.broker_url, REBUILD_TASK)
        live.worker.wait_for(task_line(REBUILD_TASK, task_id, "received"), after=offset)
        blocked = wait_until(
            lambda: waiting_backends(conn, exclude={holder_pid}), timeout=120, what="the rebuild to reach the row"
        )
        assert [backend.query.split("(")[0].strip() for backend in blocked] == ['INSERT INTO "metrics_quartermetric"']
        assert live_figure(conn, first, *TRACKER, "delivered") >= CORRUPTION  # its writes so far are uncommitted

        lost = _kill_pool_process(live, after=offset)
        # acks_late + reject_on_worker_lost: the parent requeues the message and a new pool process takes it.
        live.worker.wait_for(task_line(REBUILD_TASK, task_id, "received"), after=lost)
    finally:
        holder.rollback()
        holder.close()
    try:
        live.worker.wait_for(task_line(REBUILD_TASK, task_id, "succeeded"), after=lost, timeout=180)
        assert _max_delivered(conn) < CORRUPTION
        rebuilt = snapshot(conn)
        manage(live.env, "recompute_metrics")  # a clean full recompute, in-process
        assert snapshot(conn) == rebuilt
        assert pending_markers(conn) == 0
    finally:
        if _max_delivered(conn) >= CORRUPTION:  # leave correct figures for the other tests
            manage(live.env, "recompute_metrics")
        conn.close()


@dataclass(frozen=True)
class KilledMarkerTask:
    commitment_id: int
    task_id: str
    quarter: tuple[int, int]  # the quarter of the approved update's as-of date
    delivered_before: int  # the tracker's delivered count for that quarter before the approval


def _kill_test_as_of() -> date:
    """The last day of the quarter before last: the recompute rewrites two quarters before it reaches today's."""
    return Quarter.containing(_today()).previous().previous().end


def _kill_the_marker_task_mid_write(live: Stack, conn: Any) -> KilledMarkerTask:
    """Approve an update; SIGKILL the pool process while its recompute is mid-way; let the redelivery run.

    The recompute is held at the tracker row of the last quarter, which the test locks, after it has
    claimed the marker and rewritten the commitment's spans, in the statement adjusting every quarter. Once the pool
    process is killed, the message is redelivered at once; the killed run's database session lives on,
    holding its locks, until the test releases the row and PostgreSQL notices the client is gone. The
    redelivered run is given time to finish or to queue behind that session before the row is released.
    """
    as_of = _kill_test_as_of()
    commitment_id, _ = unused_commitment(conn, published_by=as_of)
    quarter = (Quarter.containing(as_of).year, Quarter.containing(as_of).number)
    delivered_before = live_figure(conn, quarter, *TRACKER, "delivered")
    holder = live.connect(autocommit=False)
    try:
        lock_live_row(holder, max(reporting_quarters(conn)), *TRACKER)
        holder_pid = holder.get_backend_pid()
        offset = len(live.worker.log())
        _finished(live.approve(commitment_id=commitment_id, as_of=as_of))
        task_id = live.worker.wait_for(task_line(MARKER_TASK, None, "received"), after=offset).match["id"]
        [orphan] = wait_until(
            lambda: waiting_backends(conn, exclude={holder_pid}), timeout=120, what="the recompute to reach the row"
        )
        # Checks, not assertions: the run is mid-write, holding the marker it claimed,
        # and what it has written is not committed.
        # One approval adjusts the stored rows in place (the incremental path), every quarter in one statement
        # (metrics.row_adjustments: WITH change (...) AS (VALUES ...) UPDATE "metrics_quartermetric" ...; the
        # server shows only the start of a long statement).
        expect(orphan.query.startswith("WITH change (c_quarter, "), f"blocked elsewhere: {orphan.query[:300]}")
        expect(pending_markers(conn, commitment_id) == 1, "the marker is not pending")
        expect(live_figure(conn, quarter, *TRACKER, "delivered") == delivered_before, "uncommitted writes are seen")

        lost = _kill_pool_process(live, after=offset)
        redelivered = live.worker.wait_for(task_line(MARKER_TASK, task_id, "received"), after=lost).end
        wait_until(
            lambda: (
                live.worker.find(task_line(MARKER_TASK, task_id, "succeeded"), after=redelivered)
                or len(waiting_backends(conn, exclude={holder_pid})) > 1
            ),
            timeout=60,
            what="the redelivered recompute to finish or to wait for the killed run's session",
        )
    finally:
        holder.rollback()
        holder.close()
    wait_until(lambda: orphan.pid not in backend_pids(conn), timeout=30, what="the killed run's session to end")
    return KilledMarkerTask(commitment_id, task_id, quarter, delivered_before)


@needs_real_worker
def test_a_marker_task_killed_mid_write_loses_nothing_and_the_sweep_completes_it(live: Stack) -> None:
    conn = live.connect()
    try:
        killed = _kill_the_marker_task_mid_write(live, conn)
        offset = len(live.worker.log())
        sweep = send_task(live.broker_url, MARKER_TASK)  # what the beat job sends every minute
        live.worker.wait_for(task_line(MARKER_TASK, sweep, "succeeded"), after=offset, timeout=120)
        assert pending_markers(conn) == 0
        assert live_figure(conn, killed.quarter, *TRACKER, "delivered") == killed.delivered_before + 1
        swept = snapshot(conn)
        manage(live.env, "recompute_metrics")  # a clean full recompute, in-process
        assert snapshot(conn) == swept
    finally:
        conn.close()


@needs_real_worker
def test_a_marker_task_killed_mid_write_is_completed_by_its_redelivery(live: Stack) -> None:
    conn = live.connect()
    try:
        killed = _kill_the_marker_task_mid_write(live, conn)
        processed = _eventually(lambda: pending_markers(conn, killed.commitment_id) == 0, timeout=15)
        assert processed, "the redelivered task left the marker to the periodic sweep"
        assert live_figure(conn, killed.quarter, *TRACKER, "delivered") == killed.delivered_before + 1
    finally:
        conn.close()

"""The faults, at fixed fractions of the run, and the two runs of the reminders around them.

A Celery worker is killed with SIGKILL (its unacknowledged tasks wait for Redis' visibility timeout;
the outbox of recompute markers and the periodic sweep cover them) and started again; Redis is restarted
with nothing saved (every queued message is lost); PostgreSQL is restarted (``pg_ctl restart -m fast``
ends every session). The reminders task is sent just before the worker is killed and again after the
last fault, so a run or a delivery caught by a fault meets the ledger a second time.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lsis.celery import enqueue_within_timeout
from tests.drill.servers import PrivatePostgres, PrivateRedis

REMINDERS_TASK = "metrics.send_reminders"
RESTART_POSTGRES = "restart PostgreSQL"


@dataclass(frozen=True)
class Event:
    """One fault or action: when it was planned and when it began and ended (s into the run), and what it did."""

    name: str
    planned: float
    started: float
    ended: float
    detail: str


def reminders_send_task() -> str:
    """Send the reminders task to the broker, trying for up to 10 s (the broker may be restarting)."""
    deadline = time.monotonic() + 10
    attempts = 0
    while True:
        attempts += 1
        try:
            enqueue_within_timeout(REMINDERS_TASK)
            return f"sent to the broker (attempt {attempts})"
        except Exception as error:  # any broker error: try again until the deadline
            if time.monotonic() > deadline:
                return f"NOT sent after {attempts} attempts: {error}"
            time.sleep(0.5)


def plan(
    *, topology: Any, redis: PrivateRedis, postgres: PrivatePostgres
) -> list[tuple[float, str, Callable[[], str]]]:
    """The drill's schedule: (fraction of the run, name, action returning what it did)."""

    def kill() -> str:
        pid = topology.worker_pids()[0]
        topology.kill_worker(0, signal.SIGKILL)
        return f"kill -9 of worker 0 (pid {pid}) and its pool"

    def start() -> str:
        topology.start_worker(0)
        return f"worker 0 started again (pid {topology.worker_pids()[0]})"

    def restart_redis() -> str:
        redis.restart()
        return f"Redis stopped and started on port {redis.port}, queues empty"

    def restart_postgres() -> str:
        postgres.restart()
        return "pg_ctl restart -m fast"

    return [
        (0.24, "reminders (1st run)", reminders_send_task),
        (0.25, "kill -9 a Celery worker", kill),
        (0.35, "start the worker again", start),
        (0.50, "restart Redis", restart_redis),
        (0.70, RESTART_POSTGRES, restart_postgres),
        (0.80, "reminders (2nd run)", reminders_send_task),
    ]


def run_plan(steps: list[tuple[float, str, Callable[[], str]]], *, started: float, seconds: float) -> list[Event]:
    """Run each step at its time (``started`` is the run's monotonic start); return what happened."""
    events = []
    for fraction, name, action in steps:
        planned = fraction * seconds
        time.sleep(max(0.0, started + planned - time.monotonic()))
        begun = time.monotonic() - started
        detail = action()
        events.append(Event(name, planned, begun, time.monotonic() - started, detail))
    return events

"""The fault drill: the production topology under load while a worker, Redis and PostgreSQL fail.

On loopback only, in a temporary folder removed at the end, it starts a PostgreSQL 15 cluster and a Redis
of its own (``servers.py``: the machine's shared servers are never touched), migrates and seeds the real
Sector Deal data, computes the figures and creates the drill's people (``data.py``), then starts the
production processes (``lsis.ops.topology.Topology``: gunicorn, Celery workers, one beat) on production
settings. For ``--seconds`` it runs ``--clients`` clients (``load.py``): partner API reads, board
dashboard pages, and staff writing, submitting and approving updates through the API. Meanwhile
(``faults.py``): the reminders task at 24 %, ``kill -9`` of a worker at 25 % (started again at 35 %),
Redis restarted at 50 %, PostgreSQL restarted at 70 %, the reminders task again at 80 %. Then
(``checks.py``) it waits for the figures to be fresh again, stops the processes and checks the guarantees;
it prints the figures (``report.py``) and exits 1 if a guarantee failed.

Throttling is raised for the drill's tokens (one partner token makes most of the reads): the drill is
about faults, not rates. E-mails are written to files, so that each one sent can be counted.
"""

from __future__ import annotations

import argparse
import atexit
import logging
import os
import secrets
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path
from types import FrameType
from typing import Any

import django

from tests.drill.servers import PG_BIN, PrivatePostgres, PrivateRedis, free_port

DATABASE = "lsis_drill"
WEB_WORKERS = 4
CELERY_WORKERS = 2


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.drill", description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60, help="how long the clients run (default 60)")
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients (default 16)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (logs) at the end")
    options = parser.parse_args(argv)
    if options.seconds < 5 or options.clients < 1:
        parser.error("at least 5 seconds and 1 client")
    return options


class _Teardown:
    """Stops what the drill started, once, whatever ends it (normal end, exception, Ctrl-C, SIGTERM)."""

    def __init__(self, folder: Path, *, keep: bool) -> None:
        self.folder, self.keep = folder, keep
        self.topology: Any = None
        self.redis: PrivateRedis | None = None
        self.postgres: PrivatePostgres | None = None
        self.done = False

    def __call__(self) -> None:
        if self.done:
            return
        self.done = True
        for stop in (
            self.topology.stop if self.topology is not None else None,
            self.redis.stop if self.redis is not None else None,
            self.postgres.stop if self.postgres is not None else None,
        ):
            if stop is not None:
                try:
                    stop()
                except Exception as error:  # go on stopping the rest
                    print(f"teardown: {error}", file=sys.stderr)
        if self.keep:
            print(f"logs kept in {self.folder}", file=sys.stderr)
        else:
            shutil.rmtree(self.folder, ignore_errors=True)


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def _say(message: str) -> None:
    print(f"drill: {message}", flush=True)


def main(argv: list[str]) -> int:
    """Run the drill; 0 if every guarantee held, 1 if not."""
    options = _parse(argv)
    folder = Path(tempfile.mkdtemp(prefix="lsis-drill-"))
    teardown = _Teardown(folder, keep=options.keep)
    atexit.register(teardown)
    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        return _drill(options, folder, teardown)
    finally:
        teardown()


def _drill(options: argparse.Namespace, folder: Path, teardown: _Teardown) -> int:
    begun = time.monotonic()
    postgres = teardown.postgres = PrivatePostgres(folder)
    redis = teardown.redis = PrivateRedis(folder)
    postgres.init()
    postgres.start()
    postgres.create_database(DATABASE)
    redis.start()
    _say(f"PostgreSQL on 127.0.0.1:{postgres.port}, Redis on 127.0.0.1:{redis.port} ({folder})")
    mail = folder / "mail"
    env = {
        "DJANGO_SETTINGS_MODULE": "lsis.settings.production",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "false",
        "DATABASE_URL": postgres.url(DATABASE),
        "CELERY_BROKER_URL": f"{redis.url}/0",
        "CACHE_URL": f"{redis.url}/1",
        "EMAIL_URL": f"filemail:///{mail}",
        "API_THROTTLE_READ": "1000000/minute",
        "API_THROTTLE_WRITE": "1000000/minute",
        "SENTRY_DSN": "",
    }
    os.environ.update(env)
    django.setup()
    logging.getLogger("django_structlog").setLevel(logging.WARNING)  # the tasks this process sends
    # Only now: these read the settings.
    from django.conf import settings
    from django.db import connections
    from django.utils import timezone

    from lsis.celery import enqueue_within_timeout
    from lsis.ops.topology import Topology
    from metrics.services import RECOMPUTE_TASK
    from tests.drill import checks, faults, load
    from tests.drill.data import actors_create, manage, seeded_database, static_files_stale
    from tests.drill.report import Outcome, failures, render

    logs = folder / "logs"
    topology = teardown.topology = Topology(
        env=env,
        host="127.0.0.1",
        port=free_port(),
        web_workers=WEB_WORKERS,
        celery_workers=CELERY_WORKERS,
        log_dir=logs,
    )
    # Topology.prepare (migrate, then collectstatic) less a collectstatic with nothing to do (static_files_stale).
    _say("the database: " + seeded_database(topology.env, pg_bin=PG_BIN, log=logs / "seed.log"))
    if static_files_stale(Path(settings.STATIC_ROOT)):
        _say("collectstatic (the collected static files are older than their sources)")
        manage(topology.env, "collectstatic", "--no-input", log=logs / "collectstatic.log")
    manage(topology.env, "recompute_metrics", log=logs / "seed.log")
    _say(f"data ready after {time.monotonic() - begun:.0f} s")
    actors = actors_create()
    connections.close_all()
    # The sweep once at the start, so that /readyz (which waits for its first success) need not wait for beat.
    enqueue_within_timeout(RECOMPUTE_TASK)
    topology.start()
    topology.wait_ready(timeout=120)
    _say(f"ready after {time.monotonic() - begun:.0f} s; {options.clients} clients for {options.seconds:g} s")

    recorder = load.Recorder()
    clients = load.run_clients(
        host=topology.host,
        port=topology.port,
        actors=actors,
        clients=options.clients,
        seconds=options.seconds,
        recorder=recorder,
        today=timezone.localdate(),
    )
    events = faults.run_plan(
        faults.plan(topology=topology, redis=redis, postgres=postgres),
        started=recorder.started,
        seconds=options.seconds,
    )
    for client in clients:
        client.join(timeout=options.seconds + load.TIMEOUT + 10)
    last_fault = max(e.ended for e in events if e.name.startswith(("kill", "restart")))
    _say("load over; waiting for the figures to be fresh again")
    freshness = checks.wait_fresh(since=recorder.started + last_fault, timeout=max(90.0, options.seconds))
    topology.stop()
    outcome = Outcome(
        seconds=options.seconds,
        clients=options.clients,
        setting=(
            f"gunicorn {WEB_WORKERS} workers, {CELERY_WORKERS} Celery workers, 1 beat, production settings; "
            "PostgreSQL 15 and Redis of its own"
        ),
        samples=recorder.samples,
        events=events,
        approvals_made=len(recorder.approved),
        approvals_found=checks.approvals_found(recorder.approved),
        figures=checks.figures_against_recompute(logs / "recompute.log"),
        reminders=checks.reminders_check(mail),
        freshness=freshness,
        client_errors=[f"{c.name}: {c.error!r}" for c in clients if c.error is not None or c.is_alive()],
        causes=checks.server_error_causes(logs / "web.log"),
    )
    print(render(outcome), flush=True)
    _say(f"{time.monotonic() - begun:.0f} s in all")
    return 1 if failures(outcome) else 0

"""``python -m lsis.ops.serve`` (``make serve-prod``): the production topology on this machine, on loopback.

Runs what a deployment runs (gunicorn, Celery workers, one beat; docs/deploy.md) on the production settings,
against the PostgreSQL database ``DATABASE_URL`` names and the Redis broker ``CELERY_BROKER_URL`` names,
both required. The rest of the production environment is filled in for loopback:

- ``SECRET_KEY``: generated once and kept in ``.serve-prod/secret_key`` (git-ignored), unless set;
- ``ALLOWED_HOSTS``: ``127.0.0.1,localhost``, unless set;
- ``CACHE_URL``: the broker's Redis, the next database number, unless set (the processes share one cache);
- ``SECURE_SSL_REDIRECT=false``: gunicorn answers plain HTTP here, with no TLS proxy in front.

It migrates, collects the static files, starts the processes, waits until ``/readyz`` answers 200, prints
the address and stops every process on Ctrl-C or SIGTERM. The processes' logs are in ``.serve-prod/logs/``.
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import FrameType
from urllib.parse import urlsplit, urlunsplit

from lsis.ops.topology import PROJECT_DIR, Topology, TopologyError

#: Where the generated secret and the logs are kept (listed in .gitignore).
STATE_DIR = PROJECT_DIR / ".serve-prod"

#: How long to wait for readiness (migrated, the database, cache and broker answering).
READY_TIMEOUT_SECONDS = 150.0

#: Redis's default number of databases (0 to 15).
REDIS_DATABASES = 16


class ServeError(Exception):
    """The environment does not allow the topology to start; the message says what to set."""


def cache_url_from_broker(broker_url: str) -> str:
    """The broker's Redis with the next database number (the one before, for the last): a shared cache.

    ``redis://127.0.0.1:6379/0`` gives ``redis://127.0.0.1:6379/1``. The broker's queues and the cache
    stay apart, so flushing the cache never drops queued tasks.
    """
    parts = urlsplit(broker_url)
    path = parts.path.strip("/")
    number = int(path) if path.isdigit() else 0
    cache_number = number + 1 if number + 1 < REDIS_DATABASES else number - 1
    return urlunsplit((parts.scheme, parts.netloc, f"/{cache_number}", parts.query, ""))


def secret_key_load_or_create(path: Path) -> str:
    """The secret kept in ``path``, generated (and written, readable by the owner only) the first time."""
    if path.exists():
        secret = path.read_text(encoding="utf-8").strip()
        if secret:
            return secret
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(50)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        file.write(secret + "\n")
    return secret


def serve_environment(*, environ: Mapping[str, str], state_dir: Path) -> dict[str, str]:
    """The production processes' environment for loopback, from ``environ``; ``ServeError`` if it cannot be.

    ``DATABASE_URL`` must name PostgreSQL and ``CELERY_BROKER_URL`` Redis: the production topology has
    several processes writing at once and tasks on workers, which SQLite and in-process tasks are not.
    """
    database_url = environ.get("DATABASE_URL", "").strip()
    broker_url = environ.get("CELERY_BROKER_URL", "").strip()
    problems = []
    if not database_url.startswith(("postgres://", "postgresql://", "pgsql://")):
        problems.append(
            "DATABASE_URL must name a PostgreSQL database, e.g. DATABASE_URL=postgres://postgres@127.0.0.1:5432/lsis"
            + (" (it is empty)" if not database_url else " (it names another database)")
        )
    if not broker_url.startswith(("redis://", "rediss://")):
        problems.append(
            "CELERY_BROKER_URL must name the Redis broker, e.g. CELERY_BROKER_URL=redis://127.0.0.1:6379/0"
            + (" (it is empty)" if not broker_url else " (it names another broker)")
        )
    if problems:
        raise ServeError(
            "make serve-prod runs the production topology, which needs PostgreSQL and Redis:\n  - "
            + "\n  - ".join(problems)
            + "\n(make run serves on SQLite with tasks in-process.)"
        )
    env = {"DATABASE_URL": database_url, "CELERY_BROKER_URL": broker_url}
    env["SECRET_KEY"] = environ.get("SECRET_KEY", "").strip() or secret_key_load_or_create(state_dir / "secret_key")
    env["ALLOWED_HOSTS"] = environ.get("ALLOWED_HOSTS", "").strip() or "127.0.0.1,localhost"
    env["CACHE_URL"] = environ.get("CACHE_URL", "").strip() or cache_url_from_broker(broker_url)
    env["SECURE_SSL_REDIRECT"] = "false"
    return env


def _stop_as_on_ctrl_c(signum: int, frame: FrameType | None) -> None:
    """SIGTERM stops everything as Ctrl-C does."""
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    """Prepare, start and supervise the topology until Ctrl-C or SIGTERM; the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m lsis.ops.serve",
        description="The production topology on this machine, on loopback (make serve-prod).",
    )
    parser.add_argument("--port", type=int, default=8000, help="the port gunicorn listens on (127.0.0.1)")
    parser.add_argument("--web-workers", type=int, default=4, help="gunicorn's worker processes (4)")
    parser.add_argument("--celery-workers", type=int, default=2, help="Celery worker processes (2)")
    args = parser.parse_args(argv)
    try:
        env = serve_environment(environ=os.environ, state_dir=STATE_DIR)
    except ServeError as error:
        print(error, file=sys.stderr)
        return 2
    log_dir = STATE_DIR / "logs"
    signal.signal(signal.SIGTERM, _stop_as_on_ctrl_c)
    topology = Topology(
        env=env, port=args.port, web_workers=args.web_workers, celery_workers=args.celery_workers, log_dir=log_dir
    )
    try:
        print("Migrating and collecting the static files...", flush=True)
        topology.prepare()
        print(
            f"Starting gunicorn ({args.web_workers} workers), {args.celery_workers} Celery workers and one beat; "
            "waiting for /readyz...",
            flush=True,
        )
        topology.start()
        topology.wait_ready(timeout=READY_TIMEOUT_SECONDS)
        print(
            f"\n  LSIS Tracker (production settings) is ready on {topology.url}/ and http://localhost:{args.port}/"
            f"\n  Sign in at http://localhost:{args.port}/ (the session cookie is Secure; see README.md)."
            f"\n  Logs: {log_dir}/   Press Ctrl-C (or send SIGTERM to {os.getpid()}) to stop every process.\n",
            flush=True,
        )
        while True:
            exited = [process.name for process in topology.processes if not process.running]
            if exited:
                print(f"{', '.join(exited)} exited; stopping. See {log_dir}/.", file=sys.stderr)
                return 1
            time.sleep(1)
    except KeyboardInterrupt:
        print("\nStopping...", flush=True)
        return 0
    except TopologyError as error:
        print(error, file=sys.stderr)
        return 1
    finally:
        # A second Ctrl-C or SIGTERM must not cut the stopping short and leave processes behind.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        topology.stop()


if __name__ == "__main__":
    sys.exit(main())

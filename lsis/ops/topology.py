"""The production topology as processes on one machine: gunicorn, Celery workers and one beat.

``Topology`` starts each process of the production topology (docs/deploy.md) as a subprocess on the
production settings (``DJANGO_SETTINGS_MODULE=lsis.settings.production``) and supervises them: it waits
until the site answers, stops and restarts a worker on demand, and stops everything at the end. It is
what ``make serve-prod`` runs (``lsis.ops.serve``) and what the fault drill builds on.

Usage::

    env = {
        "SECRET_KEY": "...",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/lsis",
        "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0",
        "CACHE_URL": "redis://127.0.0.1:6379/1",
        "SECURE_SSL_REDIRECT": "false",
    }
    with Topology(env=env, port=8000, web_workers=4, celery_workers=2, log_dir=Path("logs")) as topology:
        topology.prepare()       # migrate, then collectstatic
        topology.start()         # gunicorn, the workers, one beat
        topology.wait_ready()    # /readyz answers 200
        pid = topology.worker_pids()[0]
        topology.kill_worker(0)  # SIGKILL worker 0 and its pool processes
        topology.start_worker(0)
    # leaving the block stops every process (SIGTERM, then SIGKILL what is left)

``env`` is laid over this process's environment, so PATH and the like are inherited; the variables
above must be set in one or the other. ``MIGRATE_DATABASE_URL``, when set, is the database ``prepare``
migrates through (a direct connection when ``DATABASE_URL`` goes through PgBouncer in transaction mode,
which does not keep the session-level advisory lock migrations take). Each process writes its standard
output and error to a file of its own in ``log_dir`` (``web.log``, ``worker0.log``, ``beat.log``, ...).

Every process is the leader of a process group of its own, so a signal reaches the process and its
children together (gunicorn's workers, Celery's pool): killing worker 0 is what a machine losing that
worker looks like, not an orphaned pool left running. Only the standard library is used here.
"""

from __future__ import annotations

import contextlib
import fcntl
import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import IO, Self

#: The project's folder (where manage.py is): every process runs there.
PROJECT_DIR = Path(__file__).resolve().parent.parent.parent

#: What every process needs from its environment (ADR 0010).
REQUIRED_ENV = ("SECRET_KEY", "ALLOWED_HOSTS", "DATABASE_URL", "CELERY_BROKER_URL", "CACHE_URL")

SETTINGS_MODULE = "lsis.settings.production"


class TopologyError(RuntimeError):
    """A process of the topology failed to prepare, start or become ready; the message has its logs' tail."""


class _Process:
    """One supervised subprocess, the leader of its own process group, writing to one log file."""

    def __init__(self, name: str, argv: list[str], log_path: Path) -> None:
        self.name = name
        self.argv = argv
        self.log_path = log_path
        self.popen: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def start(self, env: Mapping[str, str]) -> None:
        """Start the process, appending its output to its log (a restarted process keeps the earlier lines)."""
        self._log = open(self.log_path, "ab")  # noqa: SIM115 (closed in wait/reap, once the process has gone)
        self.popen = subprocess.Popen(  # noqa: S603 (argv built here from fixed parts, no shell)
            self.argv,
            cwd=PROJECT_DIR,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def running(self) -> bool:
        """Whether the process has been started and has not exited (one that has is cleaned up now)."""
        if self.popen is None or self.popen.returncode is not None:
            return False
        # Look without reaping: while the exited leader is not reaped, its id cannot be reused, so the
        # signal that takes what it left behind (pool processes) reaches only its own group.
        if os.waitid(os.P_PID, self.popen.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is None:
            return True
        self._finish()
        return False

    @property
    def pid(self) -> int | None:
        """The process id while it runs."""
        return self.popen.pid if self.popen is not None and self.running else None

    def signal_group(self, sig: int) -> None:
        """Send ``sig`` to the process and its children (its process group), if it has not been reaped."""
        if self.popen is None or self.popen.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.popen.pid, sig)

    def _finish(self) -> None:
        """The leader has exited: kill what is left of its group, reap it and close its log."""
        self.signal_group(signal.SIGKILL)
        if self.popen is not None:
            self.popen.wait()
        if self._log is not None:
            self._log.close()
            self._log = None

    def reap(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for the process to exit; True if it has (and has been cleaned up)."""
        deadline = time.monotonic() + max(timeout, 0)
        while self.running:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)
        return True


def _tail(path: Path, lines: int = 40) -> str:
    """The last ``lines`` lines of a log, for an error message."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


class Topology:
    """Starts and supervises the production processes on this machine (see the module's docstring)."""

    def __init__(
        self,
        *,
        env: Mapping[str, str],
        host: str = "127.0.0.1",
        port: int = 8000,
        web_workers: int = 4,
        celery_workers: int = 2,
        log_dir: Path,
        worker_concurrency: int = 2,
        python: str = sys.executable,
    ) -> None:
        merged = {**os.environ, **env}
        missing = [name for name in REQUIRED_ENV if not merged.get(name, "").strip()]
        if missing:
            raise TopologyError("The production processes need these environment variables: " + ", ".join(missing))
        if web_workers < 1 or celery_workers < 0:
            raise ValueError("At least one web worker; no fewer than zero Celery workers.")
        # gunicorn serves plain HTTP here: without a TLS proxy in front, the redirect would send every
        # request (and the readiness poll) to an https:// nobody answers.
        merged.setdefault("SECURE_SSL_REDIRECT", "false")
        merged["DJANGO_SETTINGS_MODULE"] = SETTINGS_MODULE
        merged.setdefault("PYTHONUNBUFFERED", "1")  # logs reach the files as they are written
        self.env: dict[str, str] = merged
        self.host = host
        self.port = port
        self.web_workers = web_workers
        self.celery_workers = celery_workers
        self.worker_concurrency = worker_concurrency
        self.python = python
        self.log_dir = Path(log_dir)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.web = _Process("web", self._web_argv(), self.log_dir / "web.log")
        self.workers = [
            _Process(f"worker{index}", self._worker_argv(index), self.log_dir / f"worker{index}.log")
            for index in range(celery_workers)
        ]
        self.beat = _Process("beat", self._beat_argv(), self.log_dir / "beat.log")

    # --- what each process runs -------------------------------------------------------------------

    def _web_argv(self) -> list[str]:
        return [
            self.python,
            "-m",
            "gunicorn",
            "lsis.wsgi",
            "--workers",
            str(self.web_workers),
            "--bind",
            f"{self.host}:{self.port}",
            # A stopped web process finishes the requests it has within this, then goes.
            "--graceful-timeout",
            "20",
            "--timeout",
            "60",
        ]

    def _worker_argv(self, index: int) -> list[str]:
        return [
            self.python,
            "-m",
            "celery",
            "-A",
            "lsis",
            "worker",
            "-n",
            f"worker{index}@%h",
            "--concurrency",
            str(self.worker_concurrency),
            "--loglevel",
            "INFO",
        ]

    def _beat_argv(self) -> list[str]:
        # The schedule lives in the database (django-celery-beat's DatabaseScheduler): no schedule file.
        return [self.python, "-m", "celery", "-A", "lsis", "beat", "--loglevel", "INFO"]

    @property
    def url(self) -> str:
        """The site's address, e.g. ``http://127.0.0.1:8000``."""
        return f"http://{self.host}:{self.port}"

    @property
    def processes(self) -> list[_Process]:
        """Every supervised process: web, the workers, beat."""
        return [self.web, *self.workers, self.beat]

    # --- life cycle -------------------------------------------------------------------------------

    def prepare(self, *, collectstatic: bool = True) -> None:
        """Migrate the database, then collect the static files WhiteNoise serves; raise if either fails.

        ``manage.py migrate`` takes the database's advisory lock, so two deploys cannot migrate at once;
        it connects through ``MIGRATE_DATABASE_URL`` when set (a direct connection, as the lock needs).
        ``collectstatic=False`` keeps the files already collected in ``staticfiles/`` (hashing and
        compressing them all again takes a minute or more of CPU).
        """
        migrate_env = dict(self.env)
        if self.env.get("MIGRATE_DATABASE_URL", "").strip():
            migrate_env["DATABASE_URL"] = self.env["MIGRATE_DATABASE_URL"]
        self._run_once("migrate", [self.python, "manage.py", "migrate", "--no-input"], migrate_env)
        if collectstatic:
            # Every copy of the topology on this machine collects into the one staticfiles/: two at once
            # would write the same files and manifest together, so they take turns.
            # (The lock is kept beside make serve-prod's secret, git-ignored, not among the files served.)
            lock_path = PROJECT_DIR / ".serve-prod" / "collectstatic.lock"
            lock_path.parent.mkdir(exist_ok=True)
            with open(lock_path, "w") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                self._run_once("collectstatic", [self.python, "manage.py", "collectstatic", "--no-input"], self.env)

    def _run_once(self, name: str, argv: list[str], env: Mapping[str, str]) -> None:
        log_path = self.log_dir / f"{name}.log"
        with open(log_path, "ab") as log:
            completed = subprocess.run(  # noqa: S603 (argv built here from fixed parts, no shell)
                argv, cwd=PROJECT_DIR, env=dict(env), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
            )
        if completed.returncode != 0:
            raise TopologyError(f"{name} failed (exit {completed.returncode}):\n{_tail(log_path)}")

    def start(self) -> None:
        """Start gunicorn, each Celery worker and exactly one beat (what is already running is left alone)."""
        for process in self.processes:
            if not process.running:
                process.start(self.env)

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Poll ``/readyz`` until it answers 200; raise ``TopologyError`` with the logs' tail on timeout.

        Where the site has no ``/readyz`` (a 404), ``/healthz`` is polled instead, and without that too an
        accepted TCP connection is enough. A process that exits meanwhile fails at once. A web process gives a
        metrics sweep that has never run one window (``HEALTH_SWEEP_WINDOW_SECONDS``) from its start, so a new
        database is ready without waiting for beat's first sweep.
        """
        deadline = time.monotonic() + timeout
        paths = ["/readyz", "/healthz", None]
        last = "no answer yet"
        while time.monotonic() < deadline:
            exited = [process for process in self.processes if process.popen is not None and not process.running]
            if exited:
                raise TopologyError(self._failure(f"{exited[0].name} exited before the site was ready"))
            path = paths[0]
            try:
                if path is None:
                    with socket.create_connection((self.host, self.port), timeout=2):
                        return
                connection = http.client.HTTPConnection(self.host, self.port, timeout=5)
                try:
                    connection.request("GET", path)
                    status = connection.getresponse().status
                finally:
                    connection.close()
                if status == 200:
                    return
                if status == 404 and len(paths) > 1:
                    paths.pop(0)
                    continue
                last = f"{path} answered {status}"
            except OSError as error:
                last = f"{path or 'TCP'}: {error}"
            time.sleep(0.25)
        raise TopologyError(self._failure(f"not ready within {timeout:g} s ({last})"))

    def _failure(self, what: str) -> str:
        tails = "\n".join(f"--- {p.log_path.name} ---\n{_tail(p.log_path, 20)}" for p in self.processes)
        return f"{what}\n{tails}"

    def worker_pids(self) -> list[int]:
        """The main process id of each running Celery worker, in index order (a stopped worker is left out)."""
        return [pid for pid in (worker.pid for worker in self.workers) if pid is not None]

    def kill_worker(self, index: int, sig: int = signal.SIGKILL) -> None:
        """Send ``sig`` to Celery worker ``index`` and its pool processes; with SIGKILL, wait until they have gone.

        SIGKILL is a worker lost with its tasks unacknowledged (they are acknowledged late, so Redis delivers
        them again after its visibility timeout); SIGTERM is a warm shutdown that finishes the running tasks.
        """
        worker = self.workers[index]
        worker.signal_group(sig)
        if sig == signal.SIGKILL:
            worker.reap(timeout=10)

    def start_worker(self, index: int) -> None:
        """Start Celery worker ``index`` again (after ``kill_worker``); nothing if it is running."""
        worker = self.workers[index]
        if not worker.running:
            worker.start(self.env)

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM every process, wait up to ``timeout`` seconds for them, then SIGKILL what is left."""
        for process in self.processes:
            if process.running:
                process.signal_group(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for process in self.processes:
            if not process.reap(deadline - time.monotonic()):
                process.signal_group(signal.SIGKILL)
                process.reap(timeout=10)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()

"""A private PostgreSQL 15 cluster and a private Redis for the drill, on loopback ports of their own.

The drill restarts both, so it never touches the machine's shared servers: each lives in a temporary
folder, listens on 127.0.0.1 only, on a port free when it starts, and is removed at the end. initdb
refuses to run as root, so as root the PostgreSQL binaries run as the ``postgres`` user.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

PG_BIN = Path("/usr/lib/postgresql/15/bin")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def port_open(port: int) -> bool:
    """Whether something accepts connections on 127.0.0.1:``port``."""
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
        return True
    return False


def _wait(predicate: object, *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(predicate) and predicate():
            return
        time.sleep(0.1)
    raise RuntimeError(f"{what} within {timeout:g} s")


class PrivateRedis:
    """``redis-server`` as a child process: no persistence, so a restart loses what was queued."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The server's base URL; append ``/<db>``."""
        return f"redis://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        log = open(self.folder / "redis.log", "ab")  # noqa: SIM115 - the child keeps writing to it
        self.process = subprocess.Popen(  # noqa: S603 - fixed arguments, loopback only
            [
                shutil.which("redis-server") or "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
                "--dir",
                str(self.folder),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        log.close()
        _wait(lambda: port_open(self.port), timeout=15, what="Redis did not accept connections")

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL) and wait for it."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)

    def restart(self) -> None:
        """Stop and start again on the same port: every queued message is gone."""
        self.stop()
        self.start()


class PrivatePostgres:
    """A PostgreSQL 15 cluster in ``folder``, trust authentication, listening on 127.0.0.1 only."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.data = folder / "pgdata"
        self.socket_dir = folder / "pgsocket"
        self.log = folder / "postgres.log"
        self.port = free_port()
        self.as_postgres = os.geteuid() == 0

    def _run(self, *argv: str) -> None:
        command = [str(PG_BIN / argv[0]), *argv[1:]]
        if self.as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
        if done.returncode != 0:
            raise RuntimeError(f"{argv[0]} failed ({done.returncode}): {done.stdout}{done.stderr}")

    def url(self, database: str) -> str:
        """A DATABASE_URL for ``database`` on this cluster."""
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def init(self) -> None:
        """initdb into the folder (owned by ``postgres`` when running as root)."""
        self.socket_dir.mkdir(parents=True, exist_ok=True)
        self.data.mkdir(parents=True, exist_ok=True)
        if self.as_postgres:
            user = pwd.getpwnam("postgres")
            for path in (self.folder, self.data, self.socket_dir):
                os.chown(path, user.pw_uid, user.pw_gid)
            # The log is written by pg_ctl as postgres.
            self.log.touch()
            os.chown(self.log, user.pw_uid, user.pw_gid)
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync")

    def _options(self) -> str:
        # fsync off: the drill restarts the server cleanly (-m fast), it never loses the machine.
        return (
            f"-p {self.port} -k {self.socket_dir} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )

    def start(self) -> None:
        """Start the cluster and wait until it accepts connections."""
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", self._options(), "-w", "start")

    def restart(self) -> None:
        """``pg_ctl restart -m fast``: every session is ended, the server is back when this returns."""
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", self._options(), "-m", "fast", "-w", "restart"
        )

    def stop(self) -> None:
        """Stop the cluster if it runs (immediate: nothing in it is kept)."""
        if (self.data / "postmaster.pid").exists():
            with contextlib.suppress(RuntimeError):
                self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def create_database(self, name: str) -> None:
        """CREATE DATABASE ``name``."""
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", name)

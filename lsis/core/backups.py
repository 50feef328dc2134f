"""Backups of the PostgreSQL database: dump with ``pg_dump``, restore with ``pg_restore``, count what is there.

The functions take a Django database settings dictionary (an entry of ``settings.DATABASES``), so the same code
dumps the service's database, restores into it, or works on another database of the same server (the restore
drill's). The password reaches the PostgreSQL tools in the ``PGPASSWORD`` environment variable, never on a
command line, where any user of the machine could read it.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

POSTGRESQL_ENGINES = ("django.db.backends.postgresql", "django.contrib.gis.db.backends.postgis")
# The tools' own messages can run to pages on a corrupt dump; the first lines name the fault.
STDERR_LINES = 12


class BackupError(RuntimeError):
    """A dump or a restore that did not complete; the message says why."""


@dataclass(frozen=True)
class DumpResult:
    """A dump written: where, how large, and how long ``pg_dump`` took."""

    path: Path
    size: int
    seconds: float


@dataclass(frozen=True)
class RestoreResult:
    """A restore done: from which file, into which database, and how long ``pg_restore`` took."""

    path: Path
    database: str
    seconds: float


def is_postgresql(database: Mapping[str, Any]) -> bool:
    """Whether ``database`` (an entry of ``settings.DATABASES``) is a PostgreSQL database."""
    return database.get("ENGINE") in POSTGRESQL_ENGINES


def _connection_arguments(database: Mapping[str, Any]) -> tuple[list[str], dict[str, str]]:
    """The PostgreSQL tools' connection options for ``database``, and the environment to run them in."""
    arguments = []
    if database.get("HOST"):
        arguments += ["--host", str(database["HOST"])]
    if database.get("PORT"):
        arguments += ["--port", str(database["PORT"])]
    if database.get("USER"):
        arguments += ["--username", str(database["USER"])]
    environment = dict(os.environ)
    if database.get("PASSWORD"):
        environment["PGPASSWORD"] = str(database["PASSWORD"])
    sslmode = (database.get("OPTIONS") or {}).get("sslmode")
    if sslmode:
        environment["PGSSLMODE"] = str(sslmode)
    return [*arguments, "--no-password"], environment


def _run(command: list[str], environment: dict[str, str], what: str) -> None:
    """Run a PostgreSQL tool; raise ``BackupError`` with the start of its errors if it fails."""
    try:
        done = subprocess.run(  # noqa: S603 (the PostgreSQL tools, with arguments built here, no shell)
            command, env=environment, capture_output=True, text=True, check=False
        )
    except FileNotFoundError as error:
        raise BackupError(f"{command[0]} is not installed (install the PostgreSQL client tools).") from error
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines()
        detail = "\n".join(lines[:STDERR_LINES]) + ("\n…" if len(lines) > STDERR_LINES else "")
        raise BackupError(f"{what} failed ({command[0]} exited {done.returncode}):\n{detail or '(no message)'}")


def database_dump(*, database: Mapping[str, Any], output: Path, snapshot: str | None = None) -> DumpResult:
    """Dump ``database`` to ``output`` in ``pg_dump``'s custom format (compressed; ``pg_restore`` reads it).

    The dump is written to a temporary file beside ``output`` and renamed into place once complete, so
    ``output`` is either the whole dump or absent: never a truncated file that looks like a backup. With
    ``snapshot`` (from ``pg_export_snapshot()``), the dump shows the database as that transaction sees it.
    The file is readable by its owner only (``mkstemp``): it holds every account's data.
    """
    if not is_postgresql(database):
        raise BackupError("Only a PostgreSQL database is dumped this way.")
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    arguments, environment = _connection_arguments(database)
    descriptor, temporary = tempfile.mkstemp(prefix=f".{output.name}.", suffix=".partial", dir=output.parent)
    os.close(descriptor)
    command = ["pg_dump", "--format=custom", f"--file={temporary}", *arguments]
    if snapshot:
        command.append(f"--snapshot={snapshot}")
    command.append(f"--dbname={database['NAME']}")
    started = time.monotonic()
    try:
        _run(command, environment, f"Dumping {database['NAME']}")
        with open(temporary, "rb") as written:
            os.fsync(written.fileno())
        os.replace(temporary, output)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
    seconds = time.monotonic() - started
    return DumpResult(path=output, size=output.stat().st_size, seconds=seconds)


def database_restore(*, database: Mapping[str, Any], source: Path, replace: bool = False) -> RestoreResult:
    """Restore the dump ``source`` into ``database``, in one transaction: all of it, or nothing.

    A database that already holds tables is refused unless ``replace``, which drops each object the dump
    holds before recreating it. Ownership and privileges are not restored: the objects belong to the user
    who restores, so a dump restores on a server where the original role does not exist.
    """
    if not is_postgresql(database):
        raise BackupError("Only a PostgreSQL database is restored this way.")
    source = Path(source)
    if not source.is_file():
        raise BackupError(f"There is no dump at {source}.")
    arguments, environment = _connection_arguments(database)
    # Read the dump's table of contents first: a file that is not a dump is refused before the database is touched.
    _run(["pg_restore", "--list", str(source)], environment, f"Reading {source}")
    if not replace:
        tables = len(table_names(database=database))
        if tables:
            raise BackupError(
                f"The database {database['NAME']} is not empty ({tables} tables). Restore into an empty "
                "database, or pass --replace to drop and recreate what the dump holds."
            )
    command = [
        "pg_restore",
        *arguments,
        f"--dbname={database['NAME']}",
        "--no-owner",
        "--no-privileges",
        "--exit-on-error",
        "--single-transaction",
    ]
    if replace:
        command += ["--clean", "--if-exists"]
    started = time.monotonic()
    try:
        _run([*command, str(source)], environment, f"Restoring {source} into {database['NAME']}")
    except BackupError as error:
        raise BackupError(f"{error}\nThe restore ran in one transaction: nothing of it was kept.") from error
    return RestoreResult(path=source, database=str(database["NAME"]), seconds=time.monotonic() - started)


@contextmanager
def _connect(database: Mapping[str, Any], name: str | None = None) -> Iterator[Any]:
    """An autocommit connection to ``database`` (or to the database ``name`` on the same server)."""
    import psycopg2

    connection = psycopg2.connect(
        dbname=name or database["NAME"],
        user=database.get("USER") or None,
        password=database.get("PASSWORD") or None,
        host=database.get("HOST") or None,
        port=database.get("PORT") or None,
        **{key: value for key, value in (database.get("OPTIONS") or {}).items() if key == "sslmode"},
    )
    try:
        connection.autocommit = True
        yield connection
    finally:
        connection.close()


def table_names(*, database: Mapping[str, Any]) -> list[str]:
    """The tables of ``database``'s ``public`` schema, sorted."""
    with _connect(database) as connection, connection.cursor() as cursor:
        cursor.execute(
            "SELECT tablename FROM pg_catalog.pg_tables WHERE schemaname = 'public' ORDER BY tablename",
        )
        return [row[0] for row in cursor.fetchall()]


def row_counts(cursor: Any) -> dict[str, int]:
    """How many rows each table of the ``public`` schema holds, read with ``cursor`` (in its transaction)."""
    from psycopg2 import sql

    cursor.execute("SELECT tablename FROM pg_catalog.pg_tables WHERE schemaname = 'public' ORDER BY tablename")
    names = [row[0] for row in cursor.fetchall()]
    counts = {}
    for name in names:
        statement = sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier("public", name))
        cursor.execute(statement.as_string(cursor.connection))
        counts[name] = cursor.fetchone()[0]
    return counts


def database_create(*, database: Mapping[str, Any], name: str) -> dict[str, Any]:
    """Create the empty database ``name`` on ``database``'s server; return its settings (``database``'s, renamed)."""
    from psycopg2 import sql

    with _connect(database, name="postgres") as connection, connection.cursor() as cursor:
        cursor.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(sql.Identifier(name)))
    return {**database, "NAME": name}


def database_drop(*, database: Mapping[str, Any]) -> None:
    """Drop ``database``, ending any session still connected to it."""
    from psycopg2 import sql

    with _connect(database, name="postgres") as connection, connection.cursor() as cursor:
        cursor.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database["NAME"])))


def database_url(database: Mapping[str, Any]) -> str:
    """A ``postgres://`` URL naming ``database``, for a process started with it as ``DATABASE_URL``."""
    from urllib.parse import quote

    credentials = quote(str(database.get("USER") or ""), safe="")
    if database.get("PASSWORD"):
        credentials += ":" + quote(str(database["PASSWORD"]), safe="")
    host = str(database.get("HOST") or "")
    if host.startswith("/"):  # a directory holding the server's socket
        host = quote(host, safe="")
    elif ":" in host:  # an IPv6 address
        host = f"[{host}]"
    port = f":{database['PORT']}" if database.get("PORT") else ""
    at = "@" if credentials else ""
    sslmode = (database.get("OPTIONS") or {}).get("sslmode")
    query = f"?sslmode={quote(str(sslmode), safe='')}" if sslmode else ""
    return f"postgres://{credentials}{at}{host}{port}/{quote(str(database['NAME']), safe='')}{query}"

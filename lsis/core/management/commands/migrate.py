"""Django's ``migrate``, run by one instance at a time on PostgreSQL.

Several instances started together (a rolling deployment, or containers that each migrate on start) would
otherwise apply the same migration at once, and one of them would fail half-way. Here each takes a
PostgreSQL advisory lock before migrating and releases it afterwards: the others wait, then find nothing
left to apply. The lock belongs to the database session, so the connection must be a direct one (or
PgBouncer in session mode): in PgBouncer's transaction mode the lock and the migrations may run on
different server connections. On SQLite there is no lock: one file has one writer at a time anyway.

This app's command replaces Django's because an installed app's command of the same name wins over
``django.core``'s; every caller of ``migrate`` (``manage.py``, ``call_command``, the test database's creation)
gets this one.
"""

from __future__ import annotations

from typing import Any

from django.core.management.commands import migrate
from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper

#: The advisory lock's key: the bytes of "lsismgrt", so that it is recognisable in pg_locks.
MIGRATE_LOCK_KEY = int.from_bytes(b"lsismgrt", "big")


class Command(migrate.Command):
    help = migrate.Command.help + " On PostgreSQL, one instance at a time (an advisory lock)."

    def handle(self, *args: Any, **options: Any) -> None:
        connection = connections[options["database"]]
        if connection.vendor != "postgresql":
            super().handle(*args, **options)
            return
        self._lock(connection, verbosity=options["verbosity"])
        try:
            super().handle(*args, **options)
        finally:
            self._unlock(connection)

    def _lock(self, connection: BaseDatabaseWrapper, *, verbosity: int) -> None:
        """Take the lock, saying so first if another instance holds it and this one waits."""
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s)", [MIGRATE_LOCK_KEY])
            if cursor.fetchone()[0]:
                return
            if verbosity >= 1:
                self.stdout.write("Waiting for another instance to finish migrating...")
                self.stdout.flush()
            cursor.execute("SELECT pg_advisory_lock(%s)", [MIGRATE_LOCK_KEY])
            if verbosity >= 1:
                self.stdout.write("The other instance has finished; migrating.")

    def _unlock(self, connection: BaseDatabaseWrapper) -> None:
        """Release the lock; a session that has been closed released it already."""
        if connection.connection is None or not connection.is_usable():
            return
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [MIGRATE_LOCK_KEY])

"""``python manage.py restore_database --input FILE [--replace]``: restore a dump into the database."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from lsis.core.backups import BackupError, database_restore, is_postgresql


class Command(BaseCommand):
    help = (
        "Restore a dump made by backup_database into the database DATABASE_URL names, in one transaction: "
        "if anything fails, nothing is restored. An empty database is required unless --replace."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--input", required=True, help="The dump file (pg_dump custom format).")
        parser.add_argument(
            "--replace",
            action="store_true",
            help="Restore into a database that holds tables: drop each object the dump holds, then recreate it.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        database = settings.DATABASES["default"]
        if not is_postgresql(database):
            raise CommandError(
                "The database is SQLite: restore it by putting the copied file in place with the server and "
                "workers stopped. This command restores PostgreSQL dumps only."
            )
        try:
            result = database_restore(database=database, source=Path(options["input"]), replace=options["replace"])
        except BackupError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(
            self.style.SUCCESS(f"Restored {result.path} into {result.database} in {result.seconds:.1f} s.")
        )

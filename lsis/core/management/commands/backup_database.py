"""``python manage.py backup_database --output FILE``: dump the PostgreSQL database to a file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from lsis.core.backups import BackupError, database_dump, is_postgresql

SQLITE_ADVICE = (
    "The database is SQLite: back it up by copying its file with the server and workers stopped, or, while "
    "they run, with `sqlite3 {name} \".backup 'copy.sqlite3'\"`. This command dumps PostgreSQL only."
)


class Command(BaseCommand):
    help = (
        "Dump the database DATABASE_URL names with pg_dump's custom format (compressed, restored with "
        "restore_database). The file appears only once complete. Prints the file, its size and the time taken."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--output", required=True, help="The dump file to write; its folder is created.")

    def handle(self, *args: Any, **options: Any) -> None:
        database = settings.DATABASES["default"]
        if not is_postgresql(database):
            raise CommandError(SQLITE_ADVICE.format(name=database["NAME"]))
        try:
            result = database_dump(database=database, output=Path(options["output"]))
        except (BackupError, OSError) as error:
            raise CommandError(str(error)) from error
        self.stdout.write(
            self.style.SUCCESS(
                f"Dumped {database['NAME']} to {result.path}: {result.size:,} bytes in {result.seconds:.1f} s."
            )
        )

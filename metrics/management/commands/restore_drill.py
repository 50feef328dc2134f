"""``python manage.py restore_drill``: restore a backup into a fresh database and prove it whole."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from lsis.core.backups import BackupError, is_postgresql
from metrics.restore_drill import DRILL_PREFIX, DrillReport, drill_run, restored_facts


class Command(BaseCommand):
    help = (
        "Back up the database DATABASE_URL names (or take --input, an existing dump), restore it into a new "
        "database on the same server, and prove it whole: equal row counts, delivery states that agree with "
        "the updates, stored figures a full recompute leaves unchanged, history and audit log intact. Prints "
        "the figures; exits 1 if any check fails. The new database is dropped unless --keep. The source "
        "database is only read."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--input", help="A dump made by backup_database, instead of dumping now.")
        parser.add_argument("--keep", action="store_true", help="Keep the restored database (its name is printed).")
        parser.add_argument(
            "--damage",
            metavar="SQL",
            help="A statement run in the restored database before the checks, to see the drill catch damage.",
        )
        # Internal: the drill runs itself with this, connected to the restored database, and reads its answer.
        parser.add_argument("--examine", action="store_true", help="(internal) Examine this database; print JSON.")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["examine"]:
            # The examination recomputes figures and runs --damage: never in a database but a drill's.
            name = str(settings.DATABASES["default"]["NAME"])
            if not name.startswith(DRILL_PREFIX):
                raise CommandError(f"--examine runs only in a drill's database ({DRILL_PREFIX}…), not in {name}.")
            self.stdout.write(json.dumps(restored_facts(damage=options["damage"])))
            return
        if not is_postgresql(settings.DATABASES["default"]):
            raise CommandError("The restore drill needs PostgreSQL (DATABASE_URL); SQLite is backed up as a file.")
        source = Path(options["input"]) if options["input"] else None
        if source is not None and not source.is_file():
            raise CommandError(f"There is no dump at {source}.")
        try:
            report = drill_run(dump=source, keep=options["keep"], damage=options["damage"], progress=self.stderr.write)
        except (BackupError, RuntimeError, OSError) as error:
            raise CommandError(f"The restore drill could not finish: {error}") from error
        self._print(report)
        if not report.passed:
            raise CommandError(f"The restore drill failed: {sum(not c.passed for c in report.checks)} check(s).")

    def _print(self, report: DrillReport) -> None:
        dumped = f"{report.dump_seconds:.1f} s" if report.dump_seconds is not None else "given (--input)"
        self.stdout.write(f"Restore drill of {report.source} into {report.restored}")
        self.stdout.write(f"  dump:        {report.dump_bytes:,} bytes, {dumped}")
        self.stdout.write(f"  restore:     {report.restore_seconds:.1f} s")
        self.stdout.write(f"  checks:      {report.check_seconds:.1f} s")
        self.stdout.write(f"  tables:      {report.tables}")
        self.stdout.write(f"  rows:        {report.rows:,} checked")
        self.stdout.write(f"  figures:     {report.figures_compared:,} rows compared")
        for check in report.checks:
            mark = self.style.SUCCESS("PASS") if check.passed else self.style.ERROR("FAIL")
            self.stdout.write(f"  {mark} {check.name}: {check.detail}")
        kept = f"kept: {report.restored}" if report.kept else "dropped"
        self.stdout.write(f"  restored database {kept}")

"""Rebuild every commitment's stored search document (``commitments.search``), in one statement."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from django.db import connection, transaction

from commitments import search
from commitments.models import Commitment


class Command(BaseCommand):
    help = (
        "Rebuild the search document of every commitment (PostgreSQL): once after migrating an existing "
        "database, or after changing records outside the services. The services keep it fresh otherwise; "
        "on SQLite search reads the fields themselves and there is nothing to do."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        if connection.vendor != "postgresql":
            self.stdout.write("Nothing to do: on this database search reads the commitments' fields themselves.")
            return
        with transaction.atomic():
            search.documents_refresh()
        self.stdout.write(f"Search documents rebuilt for {Commitment.objects.count()} commitments.")

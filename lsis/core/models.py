"""The data stamp's one row."""

from __future__ import annotations

import uuid

from django.db import models


def _random_hex() -> str:
    return uuid.uuid4().hex


class DataStamp(models.Model):
    """How many times, and when last, the data the API and the dashboards show has changed.

    One row, moved on after every committed change to a tracked record (``lsis.core.changes``). A
    read can then tell whether anything it would show has changed since a client's copy, without
    building the answer: the API's ETag and Last-Modified come from it. ``epoch`` is new whenever the
    row is created, so validators from before a database was emptied never match again.

    Every request reads this row, so its columns are plain text and integers: read with a fixed
    statement, they need no conversion on any database.
    """

    key = models.CharField(max_length=20, primary_key=True)
    epoch = models.CharField(max_length=32, default=_random_hex, editable=False)
    version = models.PositiveBigIntegerField(default=1)
    changed_at = models.PositiveBigIntegerField(
        help_text="Seconds since 1970-01-01 UTC, strictly later for every version."
    )

    class Meta:
        # The table the row has always lived in (it began in the commitments app): moving the model
        # moved no data.
        db_table = "commitments_datastamp"

    def __str__(self) -> str:
        return f"{self.key} version {self.version}"

"""Open-data releases of signed-off quarters: each a numbered version with its files, never changed once published.

``metrics.models`` imports these, so that Django finds them in the app's models. A release is written once,
with its files, by ``metrics.releases.release_publish``; the models refuse any later change or deletion, in
Python and through their querysets, so the bytes a version was published with are the bytes it serves. A
restatement is a new version beside the old.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models


class ReleaseImmutableError(Exception):
    """A published release, or one of its files, cannot be changed or deleted: publish a restatement instead."""


_REFUSAL = "A published release never changes; publish a restatement (a new version) instead."


class ImmutableQuerySet(models.QuerySet[Any]):
    """Rows that may be created and read, never updated or deleted in bulk."""

    def update(self, **kwargs: Any) -> int:
        """Refused: a release never changes."""
        raise ReleaseImmutableError(_REFUSAL)

    def delete(self) -> tuple[int, dict[str, int]]:
        """Refused: a release never changes."""
        raise ReleaseImmutableError(_REFUSAL)


class ImmutableModel(models.Model):
    """A row written once: saving it again or deleting it is refused."""

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        """Insert only."""
        if not self._state.adding:
            raise ReleaseImmutableError(_REFUSAL)
        kwargs["force_insert"] = True
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        """Refused."""
        raise ReleaseImmutableError(_REFUSAL)


class Release(ImmutableModel):
    """One version of the open data of a signed-off quarter, as published."""

    quarter = models.ForeignKey("metrics.ReportingQuarter", on_delete=models.PROTECT, related_name="releases")
    version = models.PositiveIntegerField(help_text="1 for the release at sign-off; each restatement adds one.")
    published_at = models.DateTimeField()
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    note = models.TextField(blank=True, help_text="Why this version restates the one before; empty for the first.")
    content_sha256 = models.CharField(
        max_length=64,
        help_text="Digest of the data the files hold (not the version's own stamp): the same data is not "
        "published twice.",
    )

    objects = ImmutableQuerySet.as_manager()

    class Meta:
        ordering = ["quarter__year", "quarter__number", "version"]
        permissions = [("publish_release", "Can publish a restatement of a quarter's open-data release")]
        constraints = [
            models.UniqueConstraint(fields=["quarter", "version"], name="release_quarter_version_unique"),
            models.CheckConstraint(condition=models.Q(version__gte=1), name="release_version_from_1"),
        ]

    def __str__(self) -> str:
        return f"{self.quarter} version {self.version}"

    @property
    def code(self) -> str:
        """The release's lookup in addresses: ``2019-20-Q1-v1``."""
        return f"{self.quarter.quarter.label.replace(' ', '-')}-v{self.version}"


class ReleaseFile(ImmutableModel):
    """One file of a release, its bytes stored in the database."""

    release = models.ForeignKey(Release, on_delete=models.PROTECT, related_name="files")
    name = models.CharField(max_length=100)
    media_type = models.CharField(max_length=100)
    content = models.BinaryField()
    sha256 = models.CharField(max_length=64)
    size = models.PositiveIntegerField(help_text="Bytes.")
    position = models.PositiveSmallIntegerField(default=0)

    objects = ImmutableQuerySet.as_manager()

    class Meta:
        ordering = ["release", "position"]
        constraints = [models.UniqueConstraint(fields=["release", "name"], name="release_file_name_unique")]

    def __str__(self) -> str:
        return f"{self.release}: {self.name}"

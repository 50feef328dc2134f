"""Abstract base models shared by every app.

Every record the tracker keeps says when it was made and changed and by whom; anything the API exposes
has a UUID that never changes, so that partners never see database ids; anything taken from a source
document says which document and quotes it.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models


class TimeStampedModel(models.Model):
    """Creation and last-modification timestamps."""

    created_at = models.DateTimeField(auto_now_add=True, editable=False)
    modified_at = models.DateTimeField(auto_now=True, editable=False)

    class Meta:
        abstract = True


class AuditedModel(TimeStampedModel):
    """Timestamps plus the users who created and last changed the record (empty for seeded data)."""

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        editable=False,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    modified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        editable=False,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        abstract = True


class PublicModel(AuditedModel):
    """An audited record with a stable public identifier for the API and exports."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False, verbose_name="UUID")

    class Meta:
        abstract = True


class SourcedModel(models.Model):
    """A record transcribed from a source document, with the verbatim words it rests on."""

    source_document = models.ForeignKey(
        "commitments.Document",
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The document this record is taken from.",
    )
    source_quote = models.TextField(
        help_text="The words of the source document this record rests on, verbatim.",
    )

    class Meta:
        abstract = True

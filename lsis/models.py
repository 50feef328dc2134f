"""Abstract base models shared by every app.

Every record the tracker keeps says when it was made and changed and by whom; anything the API exposes
has a UUID that never changes, so that partners never see database ids. (What is taken from a source
document says which one in ``commitments.models.SourcedModel``: documents are the commitments app's.)
"""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone


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


def link_chain_reaches(record: models.Model, link: str) -> bool:
    """Whether following ``link`` (parent, part of...) from ``record`` ever comes back to it: a cycle."""
    if record.pk is None:
        return False
    seen: set[Any] = set()
    current = getattr(record, link)
    while current is not None and current.pk not in seen:
        if current.pk == record.pk:
            return True
        seen.add(current.pk)
        current = getattr(current, link)
    return False


class ConcurrentEditError(Exception):
    """Someone else saved the record after it was read: the save was refused, nothing was overwritten."""

    def __init__(self, instance: models.Model, expected_version: int) -> None:
        self.instance = instance
        self.expected_version = expected_version
        current = type(instance)._default_manager.filter(pk=instance.pk).first()
        self.current = current
        super().__init__(self.describe())

    def describe(self) -> str:
        """Say who changed the record and when, in words staff understand."""
        name = type(self.instance)._meta.verbose_name
        if self.current is None:
            return f"This {name} has been deleted since you opened it; your changes have not been saved."
        who = getattr(self.current, "modified_by", None)
        when = getattr(self.current, "modified_at", None)
        by = f" by {who.get_full_name() or who.get_username()}" if who is not None else ""
        at = f" at {timezone.localtime(when):%H:%M on %d %B %Y}" if when is not None else ""
        return (
            f"This {name} was changed{by}{at}, after you opened it. Your changes have not been saved; "
            "they are still shown below. Check the record's history, then save again to keep your changes."
        )


class VersionedModel(models.Model):
    """Optimistic locking: every save checks, in the UPDATE itself, that nobody saved in between.

    ``version`` goes up by one on every save. A save issues ``UPDATE ... WHERE id = %s AND version =
    <the version this instance was read at>``; if no row matches, someone else saved first and
    ``ConcurrentEditError`` is raised instead of overwriting their change. Bulk ``QuerySet.update()``
    bypasses this (and the audit trail) and is not used on these models.
    """

    version = models.PositiveIntegerField(default=1, editable=False)

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        """Save, refusing to overwrite a newer version."""
        if not self._state.adding:
            self._expected_version = self.version
            self.version = self.version + 1
            update_fields = kwargs.get("update_fields")
            if update_fields is not None:
                kwargs["update_fields"] = {*update_fields, "version"}
        try:
            super().save(*args, **kwargs)
        except ConcurrentEditError:
            self.version = self._expected_version
            raise

    def _do_update(
        self,
        base_qs: models.QuerySet[Any],
        using: Any,
        pk_val: Any,
        values: Any,
        update_fields: Any,
        forced_update: Any,
        *args: Any,
    ) -> bool:
        expected = getattr(self, "_expected_version", None)
        if expected is None:
            return super()._do_update(base_qs, using, pk_val, values, update_fields, forced_update, *args)
        updated = super()._do_update(
            base_qs.filter(version=expected), using, pk_val, values, update_fields, forced_update, *args
        )
        if not updated:
            raise ConcurrentEditError(self, expected)
        return bool(updated)

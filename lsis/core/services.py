"""What every service does before it writes, whatever the domain: check a permission, stamp who changed what."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied


def require_permission(user: Any, permission: str, action: str) -> None:
    """Refuse (403) a user who is not signed in or lacks ``permission``; ``action`` says what was refused."""
    if not (user and user.is_authenticated and user.has_perm(permission)):
        raise PermissionDenied(f"You do not have permission to {action}.")


def stamp_change(instance: Any, user: Any, reason: str) -> None:
    """Record on an audited record, and in the history entry its save writes, who changed it and why.

    A new record not yet given its creator is created by the same user.
    """
    instance.modified_by = user if getattr(user, "is_authenticated", False) else None
    instance._history_user = instance.modified_by
    instance._change_reason = reason
    if instance.pk is None and hasattr(instance, "created_by_id") and instance.created_by_id is None:
        instance.created_by = instance.modified_by

"""Who may see what through the API, by permission (the roles themselves are in ``commitments.roles``)."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from commitments.services import EDITOR_PERMISSION, REVIEWER_PERMISSION

# Staff roles can view commitments in the admin; partners cannot, and see only published data.
STAFF_VIEW_PERMISSION = "commitments.view_commitment"


def sees_unpublished(user: Any) -> bool:
    """Whether the user sees unpublished commitments and updates in review (staff), or only published data."""
    return bool(user and user.is_authenticated and user.has_perm(STAFF_VIEW_PERMISSION))


class CanWriteUpdates(BasePermission):
    """Editors and reviewers: write, edit and submit status updates."""

    message = "Only OLS editors and reviewers may write status updates."

    def has_permission(self, request: Request, view: Any) -> bool:
        """Checked before the request body is read."""
        return bool(request.user and request.user.has_perm(EDITOR_PERMISSION))


class CanReviewUpdates(BasePermission):
    """Reviewers: approve or return status updates."""

    message = "Only OLS reviewers may approve or return status updates."

    def has_permission(self, request: Request, view: Any) -> bool:
        """Checked before the request body is read."""
        return bool(request.user and request.user.has_perm(REVIEWER_PERMISSION))

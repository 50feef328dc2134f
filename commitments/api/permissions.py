"""Who may see what through the API, by permission (the roles themselves are in ``commitments.roles``)."""

from __future__ import annotations

from typing import Any

from commitments.models import Commitment, CommitmentQuerySet
from commitments.services import EDITOR_PERMISSION, REVIEWER_PERMISSION
from lsis.api.permissions import PermissionRequired

# Staff roles can view commitments in the admin; partners cannot, and see only published data.
STAFF_VIEW_PERMISSION = "commitments.view_commitment"


def sees_unpublished(user: Any) -> bool:
    """Whether the user sees unpublished commitments and updates in review (staff), or only published data."""
    return bool(user and user.is_authenticated and user.has_perm(STAFF_VIEW_PERMISSION))


def visible_commitments(user: Any) -> CommitmentQuerySet:
    """The commitments that exist for the user: every one for staff, the published ones for partners.

    Anything that names a commitment (a link, a filter, an address) names only these; to a partner an
    unpublished commitment is indistinguishable from one that does not exist.
    """
    return Commitment.objects.all() if sees_unpublished(user) else Commitment.objects.published()


class CanWriteUpdates(PermissionRequired):
    """Editors and reviewers: write, edit and submit status updates."""

    permission = EDITOR_PERMISSION
    message = "Only OLS editors and reviewers may write status updates."


class CanReviewUpdates(PermissionRequired):
    """Reviewers: approve or return status updates."""

    permission = REVIEWER_PERMISSION
    message = "Only OLS reviewers may approve or return status updates."

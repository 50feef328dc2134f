"""Who may change a commitment: the one statement of the rule, for the admin and anything else that asks.

Editors change commitments that are not yet published; once a commitment is published to partners, only
those who may publish change it, or anything that is part of it (the organisations involved, its funding,
the programmes delivering it).
"""

from __future__ import annotations

from typing import Any

from commitments.models import Commitment
from commitments.services import PUBLISHER_PERMISSION

CHANGE_COMMITMENT_PERMISSION = "commitments.change_commitment"


def may_change_commitment(user: Any, commitment: Commitment) -> bool:
    """Whether ``user`` may change ``commitment`` (as stored: published or not) or what belongs to it."""
    if not (user and user.is_authenticated and user.has_perm(CHANGE_COMMITMENT_PERMISSION)):
        return False
    return not commitment.published or bool(user.has_perm(PUBLISHER_PERMISSION))

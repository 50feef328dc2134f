"""The signed-in user's work: their drafts and returned updates, and updates awaiting their review."""

from __future__ import annotations

from typing import Any

from django import template
from django.urls import reverse

from commitments.models import StatusUpdate, UpdateState
from commitments.services import EDITOR_PERMISSION, REVIEWER_PERMISSION

register = template.Library()


@register.inclusion_tag("admin/commitments/work_queue.html", takes_context=True)
def work_queue(context: dict[str, Any]) -> dict[str, Any]:
    """Counts and links for the admin home page."""
    user = context["request"].user
    changelist = reverse("admin:commitments_statusupdate_changelist")
    queues = []
    if user.has_perm(EDITOR_PERMISSION):
        mine = StatusUpdate.objects.filter(author=user, state__in=[UpdateState.DRAFT, UpdateState.RETURNED])
        returned = mine.filter(state=UpdateState.RETURNED).count()
        queues.append(
            {
                "label": "My drafts and returned updates",
                "count": mine.count(),
                "note": f"{returned} returned by a reviewer" if returned else "",
                "url": f"{changelist}?queue=mine",
            }
        )
    if user.has_perm(REVIEWER_PERMISSION):
        awaiting = StatusUpdate.objects.filter(state=UpdateState.SUBMITTED).exclude(author=user)
        queues.append(
            {"label": "Awaiting my review", "count": awaiting.count(), "note": "", "url": f"{changelist}?queue=review"}
        )
    return {"queues": queues}

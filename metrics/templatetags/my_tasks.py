"""The admin's home: the signed-in member of staff's task counts, linking to My tasks (``/tasks/``)."""

from __future__ import annotations

from typing import Any

from django import template
from django.urls import reverse

from metrics.my_tasks import tasks_for

register = template.Library()


@register.inclusion_tag("admin/my_tasks.html", takes_context=True)
def my_tasks(context: dict[str, Any]) -> dict[str, Any]:
    """Each section's count, and the total, for the admin's home page."""
    user = context["request"].user
    if not (user.is_authenticated and user.is_staff):
        return {"tasks": None}
    return {"tasks": tasks_for(user=user), "url": reverse("dashboards:tasks")}

"""Template context shared by every page."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def environment(request: HttpRequest) -> dict[str, str]:
    """Which environment this is, so pages can say when they are not the live service."""
    return {"lsis_environment": settings.LSIS_ENVIRONMENT}

"""The page shown when django-axes refuses a sign-in after too many failures, on the dashboards and the admin alike.

Axes calls ``lockout_response`` (``AXES_LOCKOUT_CALLABLE``) in place of its own plain-text answer, from its
middleware, for whichever sign-in form was used. The answer is 429 Too Many Requests, as axes answers by
default, with ``Retry-After`` set to the cool-off: the request was refused for its rate, not for who sent it.
The API is not behind axes: tokens are checked by ``lsis.api.auth``, which never calls ``authenticate()``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from axes.helpers import get_cool_off
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

LOCKOUT_STATUS = 429


def duration_in_words(delta: timedelta) -> str:
    """A cool-off as people say it: "1 hour", "30 minutes", "1 hour and 30 minutes"."""
    minutes = max(1, round(delta.total_seconds() / 60))
    hours, minutes = divmod(minutes, 60)
    parts = [f"{hours} hour{'s' if hours != 1 else ''}"] if hours else []
    if minutes:
        parts.append(f"{minutes} minute{'s' if minutes != 1 else ''}")
    return " and ".join(parts)


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: dict[str, Any] | None = None
) -> HttpResponse:
    """The GOV.UK page saying sign-in is refused for now, for how long, and who to ask (``AXES_LOCKOUT_CALLABLE``)."""
    cool_off = get_cool_off(request)
    context = {
        "wait": duration_in_words(cool_off) if cool_off else None,
        "failure_limit": settings.AXES_FAILURE_LIMIT,
        "admin": request.path_info.startswith("/admin/"),
    }
    response = render(request, "lockout.html", context, status=LOCKOUT_STATUS)
    if cool_off:
        response["Retry-After"] = str(int(cool_off.total_seconds()))
    return response

"""Signing out after a time without activity, and after a longest time signed in, on every page and the API.

A signed-in session holds when it was signed in and when it was last used (seconds since the epoch). The
time of last use is written again only once it is more than ``ACTIVITY_RESOLUTION_SECONDS`` old, so most
requests write nothing to the session store: the idle limit is therefore kept to within a minute.

- Idle longer than ``SESSION_IDLE_MINUTES``, or signed in longer than ``SESSION_COOKIE_AGE`` seconds: the
  session is signed out. A page (dashboards, admin, anything but the API) redirects to the sign-in page it
  belongs to, with a message saying why; the API goes on as for anyone not signed in (401 in its JSON body).
- A request with an API token (``Authorization`` header) is not looked at: tokens have their own expiry.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import SESSION_KEY, logout, user_logged_in
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponseBase, HttpResponseRedirect
from django.shortcuts import resolve_url
from django.urls import reverse

from lsis.handlers import is_api

SIGNED_IN_AT_KEY = "lsis_signed_in_at"
LAST_ACTIVITY_KEY = "lsis_last_activity"
#: The time of last use is written again only when it is older than this, so a busy user costs a write a minute.
ACTIVITY_RESOLUTION_SECONDS = 60


def _now() -> int:
    return int(time.time())


def session_mark_signed_in(sender: Any, request: HttpRequest | None = None, **kwargs: Any) -> None:
    """On every sign-in (``user_logged_in``): the idle and longest-time clocks start again."""
    session = getattr(request, "session", None)
    if session is None:
        return
    now = _now()
    session[SIGNED_IN_AT_KEY] = now
    session[LAST_ACTIVITY_KEY] = now


def session_tracking_connect() -> None:
    """Connect ``session_mark_signed_in`` to sign-in; called once when the apps are ready."""
    user_logged_in.connect(session_mark_signed_in, dispatch_uid="lsis.sessions.session_mark_signed_in")


def idle_message(minutes: int) -> str:
    """What a user signed out for inactivity is told on the sign-in page."""
    return f"You were signed out after {minutes} minute{'s' if minutes != 1 else ''} without activity. Sign in again."


def longest_message(seconds: int) -> str:
    """What a user signed out for having been signed in too long is told on the sign-in page."""
    hours = seconds // 3600
    span = f"{hours} hour{'s' if hours != 1 else ''}" if hours else f"{seconds // 60} minutes"
    return f"You were signed out because you had been signed in for {span}. Sign in again."


def _sign_in_paths() -> tuple[str, str]:
    return resolve_url(settings.LOGIN_URL), reverse("admin:login")


class IdleSessionMiddleware:
    """Sign out a session idle longer than ``SESSION_IDLE_MINUTES`` or older than ``SESSION_COOKIE_AGE``.

    Placed after the authentication and messages middleware, so that it can sign out and leave a message.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        """Check the session's clocks before the view runs."""
        if "HTTP_AUTHORIZATION" in request.META and is_api(request):
            return self.get_response(request)  # a token request: the session, if any, plays no part
        session = request.session
        if SESSION_KEY not in session:
            return self.get_response(request)
        now = _now()
        signed_in_at = session.get(SIGNED_IN_AT_KEY)
        last_activity = session.get(LAST_ACTIVITY_KEY)
        if not isinstance(signed_in_at, int) or not isinstance(last_activity, int):
            # Signed in before the clocks were kept: they start now.
            session[SIGNED_IN_AT_KEY] = signed_in_at if isinstance(signed_in_at, int) else now
            session[LAST_ACTIVITY_KEY] = now
            return self.get_response(request)
        idle_seconds = settings.SESSION_IDLE_MINUTES * 60
        if now - last_activity > idle_seconds:
            return self._signed_out(request, idle_message(settings.SESSION_IDLE_MINUTES))
        if now - signed_in_at > settings.SESSION_COOKIE_AGE:
            return self._signed_out(request, longest_message(settings.SESSION_COOKIE_AGE))
        if now - last_activity > ACTIVITY_RESOLUTION_SECONDS:
            session[LAST_ACTIVITY_KEY] = now
        return self.get_response(request)

    def _signed_out(self, request: HttpRequest, message: str) -> HttpResponseBase:
        logout(request)
        if is_api(request):
            return self.get_response(request)  # answered as for anyone not signed in
        messages.info(request, message)
        dashboards_sign_in, admin_sign_in = _sign_in_paths()
        if request.path_info in (dashboards_sign_in, admin_sign_in):
            return self.get_response(request)
        sign_in = admin_sign_in if request.path_info.startswith("/admin/") else dashboards_sign_in
        if request.method not in ("GET", "HEAD"):
            # A form sent after the limit is not sent again: after signing in, the user starts afresh.
            return HttpResponseRedirect(sign_in)
        return redirect_to_login(request.get_full_path(), sign_in)

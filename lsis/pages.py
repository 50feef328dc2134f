"""The pages every GOV.UK service publishes, and the page that tells a signed-in partner how to use the API.

Help, the accessibility statement, cookies and privacy are open to anyone, signed in or not, as on GOV.UK.
What they say about cookies, sign-in lockout and tokens is read from the settings in force, so the pages
cannot drift from what the service does. The glossary, which gathers every app's vocabulary, is served by
``metrics.views.pages``.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.contrib.messages.storage.cookie import CookieStorage
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from knox.models import AuthToken

from lsis.api.tokens import DEFAULT_EXPIRY_DAYS

#: When this statement was prepared and the pages it covers last checked (templates/pages/accessibility.html).
ACCESSIBILITY_STATEMENT_PREPARED = "6 December 2026"


@dataclass(frozen=True)
class Cookie:
    """A cookie the service sets: its name, why, and how long it lasts."""

    name: str
    purpose: str
    expires: str


def _lifetime(seconds: int) -> str:
    """A cookie's lifetime in words: whole weeks where it is, else days; under two days, hours."""
    weeks, rest = divmod(seconds, 7 * 24 * 3600)
    if not rest and weeks:
        return f"{weeks} week{'s' if weeks != 1 else ''}"
    if seconds < 2 * 24 * 3600:
        hours = seconds // 3600
        return f"{hours} hour{'s' if hours != 1 else ''}"
    days = seconds // (24 * 3600)
    return f"{days} day{'s' if days != 1 else ''}"


def service_cookies() -> list[Cookie]:
    """Every cookie the service sets, from the settings in force (Django's session, CSRF and messages)."""
    session_expiry = (
        "When you close your browser"
        if settings.SESSION_EXPIRE_AT_BROWSER_CLOSE
        else f"{_lifetime(settings.SESSION_COOKIE_AGE)}, after {settings.SESSION_IDLE_MINUTES} minutes without "
        "activity, or when you sign out"
    )
    return [
        Cookie(
            settings.SESSION_COOKIE_NAME,
            "Keeps you signed in as you move from page to page. Set when you sign in.",
            session_expiry,
        ),
        Cookie(
            settings.CSRF_COOKIE_NAME,
            "Protects the sign-in, sign-out and administration forms from being sent by another website "
            "(cross-site request forgery). Set when a page with one of these forms is shown.",
            _lifetime(settings.CSRF_COOKIE_AGE),
        ),
        Cookie(
            CookieStorage.cookie_name,
            "Carries a confirmation message from one administration page to the next (for example, that an "
            "update was saved), or the reason you were signed out to the sign-in page. Set only then; removed "
            "once the message is shown.",
            "When you close your browser",
        ),
    ]


def help_page(request: HttpRequest) -> HttpResponse:
    """How to read the dashboards, what counts, how to sign in, and who to ask."""
    context = {
        "failure_limit": settings.AXES_FAILURE_LIMIT,
        "cooloff_hours": settings.AXES_COOLOFF_TIME,
        "session_idle_minutes": settings.SESSION_IDLE_MINUTES,
        "session_lifetime": _lifetime(settings.SESSION_COOKIE_AGE),
        "page": "help",
    }
    return render(request, "pages/help.html", context)


def accessibility(request: HttpRequest) -> HttpResponse:
    """The accessibility statement, on the GOV.UK model."""
    return render(request, "pages/accessibility.html", {"prepared": ACCESSIBILITY_STATEMENT_PREPARED})


def cookies(request: HttpRequest) -> HttpResponse:
    """The cookies the service sets: all essential, so no consent is asked."""
    return render(request, "pages/cookies.html", {"cookies": service_cookies()})


def privacy(request: HttpRequest) -> HttpResponse:
    """What personal data the service holds, why, and for how long."""
    context = {
        "session_cookie": settings.SESSION_COOKIE_NAME,
        "session_lifetime": _lifetime(settings.SESSION_COOKIE_AGE),
        "session_idle_minutes": settings.SESSION_IDLE_MINUTES,
        "failure_limit": settings.AXES_FAILURE_LIMIT,
        "cooloff_hours": settings.AXES_COOLOFF_TIME,
        "failed_token_minutes": settings.API_FAILED_TOKEN_PERIOD // 60,
    }
    return render(request, "pages/privacy.html", context)


@login_required
def api_access(request: HttpRequest) -> HttpResponse:
    """Where a partner lands on signing in: the API, its documentation, and how to get a token."""
    tokens = AuthToken.objects.filter(user=request.user).order_by("-created")
    example = reverse("api:glossary")
    context = {
        "api_root": request.build_absolute_uri(example.removesuffix("glossary/")),
        "example_url": request.build_absolute_uri(example),
        "tokens": list(tokens.only("token_key", "created", "expiry")),
        "default_expiry_days": DEFAULT_EXPIRY_DAYS,
        "now": timezone.now(),
        "page": "api-access",
    }
    return render(request, "pages/api_access.html", context)

"""Signing in and staying signed in: the lockout page, the idle and longest-time limits, and the pages' CSP.

- After ``AXES_FAILURE_LIMIT`` failed sign-ins, the dashboards' and the admin's sign-in forms answer with the
  service's GOV.UK page (429, ``Retry-After``); API tokens are not behind the lockout.
- A session unused for ``SESSION_IDLE_MINUTES``, or older than ``SESSION_COOKIE_AGE``, is signed out, and the
  sign-in page says why; the API answers such a session as it answers anyone not signed in.
- No page's Content-Security-Policy allows inline scripts or styles, or eval, the API's documentation included
  (tests/test_browser.py renders the documentation pages in Debian's Chromium with no violation of it).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from commitments import roles
from commitments.periods import Quarter
from lsis.sessions import idle_message, longest_message
from metrics.services import metrics_recompute

PASSWORD = "the-right-password-at-last"
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ROOT = Path(__file__).resolve().parent.parent


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


# --- the lockout page ------------------------------------------------------------------------------------------


@pytest.fixture
def forgetful(user_with_role: Callable[..., Any], settings: Any) -> Any:
    """A board member whose sign-ins are watched by axes, locked out after two failures."""
    settings.AXES_ENABLED = True
    settings.AXES_FAILURE_LIMIT = 2
    user = user_with_role(roles.BOARD_MEMBER, username="forgetful")
    user.set_password(PASSWORD)
    user.save()
    return user


def _assert_lockout_page(response: Any) -> None:
    assert response.status_code == 429
    assert response["Retry-After"] == "3600"  # AXES_COOLOFF_TIME: one hour
    page = response.content.decode()
    assert 'class="govuk-template"' in page
    assert "govuk-frontend.min.css" in page
    text = _text(page)
    assert "You have tried to sign in too many times" in text
    assert "You can try again in 1 hour." in text
    assert "Contact the Office for Life Sciences team that gave you your account" in text
    assert "Account locked" not in page  # axes' own plain text
    assert "Traceback" not in page


@pytest.mark.parametrize("sign_in", ["login", "admin:login"])
def test_too_many_failed_sign_ins_get_the_govuk_lockout_page(forgetful: Any, sign_in: str) -> None:
    client = Client()
    refused = client.post(reverse(sign_in), {"username": "forgetful", "password": "wrong"})
    assert refused.status_code == 200  # the form again, with its error
    # The failure that reaches the limit gets the page, not axes' text; so does the right password after it.
    _assert_lockout_page(client.post(reverse(sign_in), {"username": "forgetful", "password": "wrong"}))
    _assert_lockout_page(client.post(reverse(sign_in), {"username": "forgetful", "password": PASSWORD}))
    assert SESSION_KEY not in client.session


def test_an_attempt_during_the_lockout_starts_the_wait_again(forgetful: Any) -> None:
    client = Client()

    def sign_in(password: str) -> int:
        return client.post(reverse("login"), {"username": "forgetful", "password": password}).status_code

    with time_machine.travel(START, tick=False) as clock:
        assert [sign_in("wrong"), sign_in("wrong")] == [200, 429]
        clock.shift(timedelta(minutes=59))
        assert sign_in(PASSWORD) == 429  # within the hour: refused, and the hour starts again
        clock.shift(timedelta(minutes=59))
        assert sign_in(PASSWORD) == 429
        clock.shift(timedelta(minutes=61))
        assert sign_in(PASSWORD) == 302  # an hour after the last attempt


def test_the_lockout_page_says_how_long_from_the_cool_off_setting(forgetful: Any, settings: Any) -> None:
    settings.AXES_COOLOFF_TIME = timedelta(minutes=90)
    client = Client()
    for _ in range(3):
        locked = client.post(reverse("login"), {"username": "forgetful", "password": "wrong"})
    assert locked.status_code == 429
    assert locked["Retry-After"] == "5400"
    assert "You can try again in 1 hour and 30 minutes." in _text(locked.content.decode())


def test_an_api_token_is_not_behind_the_sign_in_lockout(forgetful: Any, token_for: Callable[..., str]) -> None:
    client = Client()
    for _ in range(3):
        client.post(reverse("login"), {"username": "forgetful", "password": "wrong"})
    assert client.post(reverse("login"), {"username": "forgetful", "password": PASSWORD}).status_code == 429
    # The same address, with a token: the API answers.
    answer = Client().get("/api/v1/glossary/", HTTP_AUTHORIZATION=f"Token {token_for(roles.PARTNER)}")
    assert answer.status_code == 200


# --- idle and longest-time limits --------------------------------------------------------------------------------


@pytest.fixture
def clock() -> Iterator[Any]:
    """A clock that stands still until a test moves it."""
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


@pytest.fixture
def signed_in(clock: Any, user_with_role: Callable[..., Any]) -> Client:
    """A board member's browser, signed in through the sign-in form at START."""
    user = user_with_role(roles.BOARD_MEMBER, username="reader")
    user.set_password(PASSWORD)
    user.save()
    client = Client()
    assert client.post(reverse("login"), {"username": "reader", "password": PASSWORD}).status_code == 302
    return client


API_ACCESS = "/api-access/"  # a page that needs sign-in, for any role


def test_a_session_idle_beyond_the_limit_is_signed_out_with_a_message(signed_in: Client, clock: Any) -> None:
    assert signed_in.get(API_ACCESS).status_code == 200
    clock.shift(timedelta(minutes=settings.SESSION_IDLE_MINUTES, seconds=1))
    response = signed_in.get(API_ACCESS + "?tab=tokens")
    assert response.status_code == 302
    assert response["Location"] == reverse("login") + "?next=/api-access/%3Ftab%3Dtokens"
    assert SESSION_KEY not in signed_in.session
    sign_in_page = signed_in.get(response["Location"])
    text = _text(sign_in_page.content.decode())
    assert "You were signed out after 30 minutes without activity. Sign in again." in text
    assert "govuk-notification-banner" in sign_in_page.content.decode()
    # Said once; signing in again works.
    assert "without activity" not in _text(signed_in.get(reverse("login")).content.decode())
    assert signed_in.post(reverse("login"), {"username": "reader", "password": PASSWORD}).status_code == 302
    assert signed_in.get(API_ACCESS).status_code == 200


def test_a_session_in_use_stays_signed_in(signed_in: Client, clock: Any) -> None:
    for _ in range(8):  # two hours, a request every quarter of an hour
        clock.shift(timedelta(minutes=15))
        assert signed_in.get(API_ACCESS).status_code == 200
    # Just inside the limit since the last request.
    clock.shift(timedelta(minutes=settings.SESSION_IDLE_MINUTES - 1))
    assert signed_in.get(API_ACCESS).status_code == 200


def test_a_session_is_signed_out_after_the_longest_time_however_busy(signed_in: Client, clock: Any) -> None:
    elapsed = timedelta()
    while elapsed < timedelta(seconds=settings.SESSION_COOKIE_AGE) - timedelta(minutes=20):
        clock.shift(timedelta(minutes=20))
        elapsed += timedelta(minutes=20)
        assert signed_in.get(API_ACCESS).status_code == 200, elapsed
    clock.shift(timedelta(minutes=21))  # 12 hours and a minute since signing in, 21 minutes since the last request
    response = signed_in.get(API_ACCESS)
    assert response.status_code == 302
    text = _text(signed_in.get(response["Location"]).content.decode())
    assert longest_message(settings.SESSION_COOKIE_AGE) in text
    assert "You were signed out because you had been signed in for 12 hours. Sign in again." in text


def test_the_admin_signs_an_idle_session_out_to_its_own_sign_in_page(
    clock: Any, user_with_role: Callable[..., Any]
) -> None:
    client = Client()
    client.force_login(user_with_role(roles.REVIEWER))
    assert client.get("/admin/").status_code == 200
    clock.shift(timedelta(minutes=settings.SESSION_IDLE_MINUTES, seconds=1))
    response = client.get("/admin/")
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:login") + "?next=/admin/"
    page = client.get(response["Location"]).content.decode()
    assert idle_message(settings.SESSION_IDLE_MINUTES) in page


def test_a_form_sent_after_the_limit_is_not_acted_on(clock: Any, user_with_role: Callable[..., Any]) -> None:
    client = Client()
    client.force_login(user_with_role(roles.REVIEWER))
    clock.shift(timedelta(minutes=settings.SESSION_IDLE_MINUTES, seconds=1))
    response = client.post(reverse("logout"))
    assert response.status_code == 302
    assert response["Location"] == reverse("login")


def test_the_api_answers_an_idle_session_as_anyone_not_signed_in(
    clock: Any, user_with_role: Callable[..., Any]
) -> None:
    client = Client()
    client.force_login(user_with_role(roles.REVIEWER))
    assert client.get("/api/v1/glossary/").status_code == 200
    clock.shift(timedelta(minutes=settings.SESSION_IDLE_MINUTES, seconds=1))
    answer = client.get("/api/v1/glossary/")
    assert answer.status_code == 401
    assert answer.json()["code"] == "not_authenticated"
    assert SESSION_KEY not in client.session


def test_a_token_request_leaves_the_session_alone(
    clock: Any, user_with_role: Callable[..., Any], token_for: Callable[..., str]
) -> None:
    client = Client()
    client.force_login(user_with_role(roles.REVIEWER))
    clock.shift(timedelta(hours=3))
    token = f"Token {token_for(roles.PARTNER)}"
    assert client.get("/api/v1/glossary/", HTTP_AUTHORIZATION=token).status_code == 200
    assert SESSION_KEY in client.session  # not signed out by the token's request
    assert client.get(API_ACCESS).status_code == 302  # a page is, with the session's own clock


def _session_writes(client: Client) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(API_ACCESS).status_code == 200
    return sum(
        1 for query in queries.captured_queries if "django_session" in query["sql"] and "SELECT" not in query["sql"]
    )


def test_most_requests_write_nothing_to_the_session_store(signed_in: Client, clock: Any) -> None:
    for _ in range(3):
        clock.shift(timedelta(seconds=20))
        assert _session_writes(signed_in) == 0
    clock.shift(timedelta(seconds=20))  # 80 s since sign-in: the time of last use is written once
    assert _session_writes(signed_in) == 1
    clock.shift(timedelta(seconds=30))
    assert _session_writes(signed_in) == 0


def test_the_cookie_lasts_the_longest_time_and_the_information_pages_say_so(client: Client, signed_in: Client) -> None:
    assert settings.SESSION_COOKIE_AGE == 12 * 3600
    assert settings.SESSION_IDLE_MINUTES == 30
    assert signed_in.cookies[settings.SESSION_COOKIE_NAME]["max-age"] == 12 * 3600
    text = _text(client.get(reverse("cookies")).content.decode())
    assert "12 hours, after 30 minutes without activity, or when you sign out" in text
    help_text = _text(client.get(reverse("help")).content.decode())
    assert "You are signed out after 30 minutes without using the service, and 12 hours after signing in" in help_text
    privacy = _text(client.get(reverse("privacy")).content.decode())
    assert "after 30 minutes without activity, or 12 hours after you signed in" in privacy


@pytest.mark.slow  # two processes that load the production settings
def test_production_keeps_the_session_cookie_secure_and_the_limits_configurable() -> None:
    code = (
        "from django.conf import settings as s; "
        "print(s.SESSION_COOKIE_SECURE, s.SESSION_COOKIE_HTTPONLY, s.SESSION_IDLE_MINUTES, s.SESSION_COOKIE_AGE, "
        "'lsis.sessions.IdleSessionMiddleware' in s.MIDDLEWARE)"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "lsis.settings.production",
        "SECRET_KEY": "production-settings-probe-not-a-real-secret",
        "ALLOWED_HOSTS": "lsis.example.gov.uk",
        "DATABASE_URL": "sqlite:///:memory:",
        "SESSION_IDLE_MINUTES": "20",
        "SESSION_MAX_HOURS": "10",
    }
    run = [sys.executable, "-c", f"import django; django.setup(); {code}"]
    out = subprocess.run(run, cwd=ROOT, env=env, capture_output=True, text=True, check=True)  # noqa: S603
    assert out.stdout.split() == ["True", "True", "20", "36000", "True"]
    refused = subprocess.run(  # noqa: S603
        run, cwd=ROOT, env={**env, "SESSION_IDLE_MINUTES": "1"}, capture_output=True, text=True, check=False
    )
    assert refused.returncode != 0
    assert "SESSION_IDLE_MINUTES must be 2 or more" in refused.stderr


# --- Content-Security-Policy --------------------------------------------------------------------------------------

ANONYMOUS_PAGES = [
    "/accounts/login/",
    "/admin/login/",
    "/help/",
    "/cookies/",
    "/privacy/",
    "/accessibility/",
    "/glossary/",
    "/api/docs/",
    "/api/docs/redoc/",
    "/no-such-page/",
]
BOARD_PAGES = [
    "/",
    "/breakdown/foundation/",
    "/changes/",
    "/funding/",
    "/board-pack/",
    "/search/?q=data",
    "/api-access/",
    "/admin/",
    "/admin/commitments/commitment/",
]


def _directives(policy: str) -> dict[str, list[str]]:
    parts = [part.split() for part in policy.split(";") if part.strip()]
    return {part[0]: part[1:] for part in parts}


def _assert_strict(response: Any, url: str) -> dict[str, list[str]]:
    policy = response["Content-Security-Policy"]
    assert "unsafe-inline" not in policy, url
    assert "unsafe-eval" not in policy, url
    assert "unsafe-hashes" not in policy, url
    directives = _directives(policy)
    assert directives["default-src"] == ["'self'"], url
    assert directives["script-src"] == ["'self'"], url  # no inline script on any page, by nonce or otherwise
    return directives


@pytest.fixture
def latest_figures(db: Any) -> None:
    """The figures of the quarter the dashboards open on, and of the current one."""
    latest = Quarter.containing(date.today())
    metrics_recompute(quarters=[latest.previous(), latest])


def test_no_page_allows_inline_scripts_or_styles(
    client: Client, client_for: Callable[..., Client], latest_figures: None
) -> None:
    for url in ANONYMOUS_PAGES:
        response = client.get(url)
        assert response.status_code in (200, 404), url
        _assert_strict(response, url)
    board = client_for(roles.BOARD_MEMBER)
    for url in BOARD_PAGES:
        response = board.get(url)
        assert response.status_code == 200, url
        _assert_strict(response, url)


def test_the_lockout_page_allows_no_inline_scripts_or_styles(forgetful: Any) -> None:
    client = Client()
    for _ in range(3):
        locked = client.post(reverse("login"), {"username": "forgetful", "password": "wrong"})
    assert locked.status_code == 429
    _assert_strict(locked, "lockout")


def test_redoc_gets_this_response_s_nonce_for_its_styles(client: Client, db: Any) -> None:
    first, second = client.get("/api/docs/redoc/"), client.get("/api/docs/redoc/")
    nonces = []
    for response in (first, second):
        [nonce] = re.findall(r'data-nonce="([^"]+)"', response.content.decode())
        assert f"'nonce-{nonce}'" in _directives(response["Content-Security-Policy"])["style-src"]
        nonces.append(nonce)
    assert nonces[0] != nonces[1]
    # Swagger UI needs none: its page's own styles are a file.
    assert _directives(client.get("/api/docs/")["Content-Security-Policy"])["style-src"] == ["'self'"]


# --- in a browser -------------------------------------------------------------------------------------------------

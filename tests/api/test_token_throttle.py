"""Wrong tokens are throttled per client address without ever refusing a valid token.

The client address comes from one rule (``lsis.client_address``): ``REMOTE_ADDR``, or, with
``API_CLIENT_IP_HEADER`` set, the address the outermost of ``API_TRUSTED_PROXY_COUNT`` trusted proxies
saw. The failed-token limit, the request throttles and the sign-in lockout all use it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client, override_settings
from django.urls import reverse
from rest_framework.request import Request
from rest_framework.test import APIClient, APIRequestFactory

from commitments import roles
from lsis.api.throttles import TokenScopedRateThrottle

pytestmark = pytest.mark.django_db
V1 = "/api/v1"
LIMIT = 20  # the default API_FAILED_TOKEN_LIMIT
WRONG = "lsis_" + "0" * 64
BEHIND_ONE_PROXY = {"API_CLIENT_IP_HEADER": "X-Forwarded-For", "API_TRUSTED_PROXY_COUNT": 1}


def _get(token: str, forwarded_for: str | None = None, remote_addr: str = "192.0.2.1") -> Any:
    extra: dict[str, Any] = {"REMOTE_ADDR": remote_addr}
    if forwarded_for is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded_for
    return APIClient().get(f"{V1}/glossary/", HTTP_AUTHORIZATION=f"Token {token}", **extra)


def test_the_limit_counts_wrong_tokens_from_one_address() -> None:
    statuses = [_get(WRONG).status_code for _ in range(LIMIT + 2)]
    assert statuses == [401] * LIMIT + [429] * 2
    refused = _get(WRONG)
    assert refused.json()["code"] == "throttled"
    assert int(refused["Retry-After"]) > 0
    # Another address is not held back by this one's failures.
    assert _get(WRONG, remote_addr="192.0.2.2").status_code == 401


def test_a_valid_token_is_never_refused_for_its_address_s_failures(token_for: Callable[..., str]) -> None:
    token = token_for(roles.PARTNER)
    for _ in range(LIMIT + 5):
        _get(WRONG)
    assert _get(token).status_code == 200
    assert _get(WRONG).status_code == 429
    assert _get(token).status_code == 200


def test_a_forwarded_for_header_is_ignored_without_the_setting() -> None:
    """Otherwise every wrong token could claim a fresh address and never reach the limit."""
    for number in range(LIMIT):
        assert _get(WRONG, forwarded_for=f"198.51.100.{number}").status_code == 401
    assert _get(WRONG, forwarded_for="198.51.100.250").status_code == 429


@override_settings(**BEHIND_ONE_PROXY)
def test_behind_a_trusted_proxy_the_address_it_saw_is_the_client_s() -> None:
    # Every request comes from the proxy's address; the proxy appends the address it was reached from.
    for number in range(LIMIT):
        # What a client writes to the left of the proxy's entry is its own claim, and changes nothing.
        assert _get(WRONG, forwarded_for=f"10.0.0.{number}, 203.0.113.7").status_code == 401
    assert _get(WRONG, forwarded_for="203.0.113.7").status_code == 429
    assert _get(WRONG, forwarded_for="203.0.113.7, 203.0.113.8").status_code == 401
    assert _get(WRONG, forwarded_for="203.0.113.8").status_code == 401


@override_settings(API_CLIENT_IP_HEADER="X-Forwarded-For", API_TRUSTED_PROXY_COUNT=2)
def test_with_two_trusted_proxies_the_second_entry_from_the_right_is_the_client() -> None:
    for _ in range(LIMIT):
        assert _get(WRONG, forwarded_for="10.9.9.9, 203.0.113.7, 198.51.100.1").status_code == 401
    assert _get(WRONG, forwarded_for="203.0.113.7, 198.51.100.2").status_code == 429
    # A header the proxies did not fill in (fewer entries than proxies): the connection's own address.
    assert _get(WRONG, forwarded_for="203.0.113.7").status_code == 401
    assert _get(WRONG, forwarded_for="not-an-address, 198.51.100.1").status_code == 401


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [({}, "192.0.2.1"), (BEHIND_ONE_PROXY, "203.0.113.7")],
    ids=["no proxy", "one proxy"],
)
def test_request_throttles_identify_clients_by_the_same_rule(overrides: dict[str, Any], expected: str) -> None:
    request = APIRequestFactory().get("/", REMOTE_ADDR="192.0.2.1", HTTP_X_FORWARDED_FOR="10.0.0.1, 203.0.113.7")
    with override_settings(**overrides):
        assert TokenScopedRateThrottle().get_ident(Request(request)) == expected


@pytest.mark.parametrize("behind_proxy", [False, True], ids=["no proxy", "one proxy"])
def test_the_sign_in_lockout_takes_the_address_from_the_same_rule(
    behind_proxy: bool, user_with_role: Callable[..., Any], settings: Any
) -> None:
    settings.AXES_ENABLED = True
    settings.AXES_FAILURE_LIMIT = 2
    if behind_proxy:
        settings.API_CLIENT_IP_HEADER = "X-Forwarded-For"
        settings.API_TRUSTED_PROXY_COUNT = 1
    user = user_with_role(roles.BOARD_MEMBER, username="forgetful")
    user.set_password("the-right-password-at-last")
    user.save()

    def sign_in(password: str, client_address: str) -> int:
        response = Client().post(
            reverse("login"),
            {"username": "forgetful", "password": password},
            REMOTE_ADDR="192.0.2.1",
            HTTP_X_FORWARDED_FOR=client_address,
        )
        return response.status_code

    for _ in range(2):
        sign_in("wrong", "203.0.113.7")
    assert sign_in("the-right-password-at-last", "203.0.113.7") == 429
    # From another client behind the proxy, the account is not locked; without the setting, the
    # header is ignored and it is the same address.
    assert sign_in("the-right-password-at-last", "203.0.113.8") == (302 if behind_proxy else 429)

"""Tokens (issue, expire, revoke), throttling, the command, the admin, and the documentation pages."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client, override_settings
from django.utils import timezone
from knox.models import AuthToken
from rest_framework.settings import api_settings
from rest_framework.test import APIClient

from commitments import roles

pytestmark = pytest.mark.django_db
V1 = "/api/v1"


def _with_token(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


def test_issue_token_prints_a_working_token_once_and_stores_only_its_hash(
    user_with_role: Callable[..., Any],
) -> None:
    user = user_with_role(roles.PARTNER, username="acme")
    out, err = StringIO(), StringIO()
    call_command("issue_token", "acme", "--expires-days", "30", stdout=out, stderr=err)
    token = out.getvalue().strip()
    assert token.startswith("lsis_")
    assert "shown once" in err.getvalue()
    record = AuthToken.objects.get(user=user)
    assert token not in (record.digest, record.token_key)
    assert record.expiry is not None
    assert timedelta(days=29) < record.expiry - timezone.now() <= timedelta(days=30)
    assert _with_token(token).get(f"{V1}/commitments/").status_code == 200


def test_issue_token_refuses_unknown_users() -> None:
    with pytest.raises(CommandError, match="no user called"):
        call_command("issue_token", "nobody", stdout=StringIO(), stderr=StringIO())


def test_expired_and_revoked_tokens_are_401(token_for: Callable[..., str]) -> None:
    expired, revoked = token_for(roles.PARTNER), token_for(roles.PARTNER)
    AuthToken.objects.filter(token_key=expired[:15]).update(expiry=timezone.now() - timedelta(seconds=1))
    AuthToken.objects.filter(token_key=revoked[:15]).delete()
    for token in (expired, revoked):
        response = _with_token(token).get(f"{V1}/commitments/")
        assert response.status_code == 401
        assert response.json()["code"] == "authentication_failed"


def test_tokens_are_issued_and_revoked_in_the_admin(user_with_role: Callable[..., Any], commit: Any) -> None:
    partner = user_with_role(roles.PARTNER)
    admin = Client()
    admin.force_login(user_with_role(None))
    page = admin.post(
        "/admin/knox/authtoken/add/", {"user": partner.pk, "expires_days": 7}, follow=True
    ).content.decode()
    token = re.search(r"(lsis_[0-9a-f]{64})", page)
    assert token is not None, page
    assert _with_token(token.group(1)).get(f"{V1}/glossary/").status_code == 200
    record = AuthToken.objects.get(user=partner)
    assert record.expiry is not None
    admin.post(f"/admin/knox/authtoken/{record.pk}/delete/", {"post": "yes"})
    commit()  # the admin's request commits, which moves the data stamp the authentication is cached under
    assert _with_token(token.group(1)).get(f"{V1}/glossary/").status_code == 401


@override_settings(API_FAILED_TOKEN_LIMIT=3)
def test_repeated_wrong_tokens_are_throttled(token_for: Callable[..., str]) -> None:
    wrong = _with_token("lsis_" + "0" * 64)
    statuses = [wrong.get(f"{V1}/glossary/").status_code for _ in range(5)]
    assert statuses == [401, 401, 401, 429, 429]
    refused = wrong.get(f"{V1}/glossary/")
    assert int(refused["Retry-After"]) > 0
    assert refused.json()["code"] == "throttled"


def test_rates_are_per_token_and_answer_429_with_retry_after(token_for: Callable[..., str]) -> None:
    rates = {**api_settings.DEFAULT_THROTTLE_RATES, "read": "3/minute", "export": "1/minute"}
    with override_settings(REST_FRAMEWORK={**_rest_framework(), "DEFAULT_THROTTLE_RATES": rates}):
        first, second = _with_token(token_for(roles.PARTNER)), _with_token(token_for(roles.PARTNER))
        statuses = [first.get(f"{V1}/glossary/").status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
        throttled = first.get(f"{V1}/glossary/")
        assert int(throttled["Retry-After"]) > 0
        assert throttled.json()["status"] == 429
        assert second.get(f"{V1}/glossary/").status_code == 200
        assert second.get(f"{V1}/commitments/", {"format": "csv"}).status_code == 200
        assert second.get(f"{V1}/commitments/", {"format": "csv"}).status_code == 429


def _rest_framework() -> dict[str, Any]:
    from django.conf import settings

    return dict(settings.REST_FRAMEWORK)


@pytest.mark.parametrize("path", ["/api/docs/", "/api/docs/redoc/"])
def test_documentation_pages_are_open_and_load_nothing_from_elsewhere(path: str) -> None:
    client = Client()
    response = client.get(path)
    assert response.status_code == 200
    page = response.content.decode()
    assert not re.search(r"""(src|href)=["']https?://""", page), page
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "default-src 'self'" in policy
    for asset in re.findall(r"""(?:src|href)=["'](/[^"']+)["']""", page):
        assert client.get(asset).status_code == 200, asset
    assert "<script>" not in page  # every script is a file, allowed by script-src 'self'


def test_the_schema_is_open_and_documents_every_operation_with_errors() -> None:
    response = Client().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = response.json()
    operations = [(path, method, op) for path, item in schema["paths"].items() for method, op in item.items()]
    assert len(operations) >= 30
    for path, method, operation in operations:
        assert operation.get("summary") or operation.get("description"), (path, method)
        for code in ("400", "401", "403", "404", "429"):
            assert code in operation["responses"], (path, method, code)
        if method in ("post", "patch"):
            assert {"409", "412", "428"} <= set(operation["responses"]), (path, method)
    assert "tokenAuth" in schema["components"]["securitySchemes"]

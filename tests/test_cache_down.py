"""A shared cache (Redis) that is down or restarting costs speed, never an answer.

Everything the cache keeps is also in the database or can be counted again: request counts, failed-token
counts, token checks and the API's kept answers. The cache here is the one the settings build for
``CACHE_URL=redis://...``, pointed at a port where nothing listens.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.test import Client, override_settings
from django.urls import reverse
from rest_framework.test import APIClient

from commitments import roles
from tests.helpers import DRAFT_UPDATE

ROOT = Path(__file__).resolve().parents[1]
DOWN = "redis://127.0.0.1:1/0"
pytestmark = pytest.mark.django_db


def _settings_caches(cache_url: str) -> dict[str, Any]:
    """CACHES as the settings build them for ``cache_url``."""
    env = {**os.environ, "CACHE_URL": cache_url, "DJANGO_SETTINGS_MODULE": "lsis.settings.test"}
    code = "import json; from django.conf import settings; print(json.dumps(settings.CACHES))"
    out = subprocess.run(  # noqa: S603 - this interpreter, a fixed script
        [sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True, check=True
    )
    return dict(json.loads(out.stdout))


@pytest.fixture(scope="module")
def redis_caches() -> dict[str, Any]:
    return _settings_caches(DOWN)


@pytest.fixture
def cache_down(redis_caches: dict[str, Any]) -> Iterator[None]:
    with override_settings(CACHES=redis_caches):
        yield


def test_the_settings_treat_a_lost_redis_as_a_miss(redis_caches: dict[str, Any]) -> None:
    default = redis_caches["default"]
    assert default["BACKEND"] == "django_redis.cache.RedisCache"
    assert default["OPTIONS"]["IGNORE_EXCEPTIONS"] is True


@pytest.mark.usefixtures("cache_down")
def test_api_reads_are_answered_and_counted_without_the_cache(api_for: Callable[[str], APIClient]) -> None:
    partner = api_for(roles.PARTNER)
    for _ in range(2):  # the second would be answered from the cache, were there one
        response = partner.get("/api/v1/commitments/", {"deal": "SD2"})
        assert response.status_code == 200
        assert response.json()["count"] > 0
    assert partner.get("/api/v1/commitments/SD2-IDEAS-HARP-G1/").status_code == 200


@pytest.mark.usefixtures("cache_down")
def test_a_wrong_token_is_still_refused_without_the_cache() -> None:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token lsis_" + "0" * 64)
    for _ in range(3):
        response = client.get("/api/v1/commitments/")
        assert response.status_code == 401
        assert response.json()["status"] == 401


@pytest.mark.usefixtures("cache_down")
def test_pages_and_writes_are_answered_without_the_cache(
    client_for: Callable[[str], Client], api_for: Callable[[str], APIClient]
) -> None:
    assert client_for(roles.BOARD_MEMBER).get(reverse("dashboards:releases")).status_code == 200
    draft = api_for(roles.EDITOR).post(
        "/api/v1/updates/",
        DRAFT_UPDATE,
        format="json",
    )
    assert draft.status_code == 201, draft.content


@pytest.mark.usefixtures("cache_down")
def test_readiness_says_the_cache_is_down() -> None:
    response = Client().get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["cache"] == "fail"

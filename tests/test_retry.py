"""A request whose PostgreSQL connection is lost before it could commit is run again, and answered.

The connection is lost here the way psycopg2 reports it (Django's ``OperationalError`` caused by psycopg2's,
with no SQLSTATE, or with a shutdown's), raised from inside the service or view a real request calls.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg2
import pytest
from django.db import OperationalError
from django.db.utils import ProgrammingError
from django.test import Client, override_settings
from django.urls import reverse
from rest_framework.test import APIClient

from commitments import roles, services
from commitments.models import StatusUpdate
from tests.helpers import DRAFT_UPDATE

pytestmark = pytest.mark.django_db
V1 = "/api/v1"
DRAFT = {**DRAFT_UPDATE, "progress": 40}


def _client(client: Any) -> Any:
    """The client answers as a server would: an exception in the request is its 500, not raised in the test."""
    client.raise_request_exception = False
    return client


def _lost() -> OperationalError:
    try:
        raise psycopg2.OperationalError("server closed the connection unexpectedly")
    except psycopg2.OperationalError as cause:
        error = OperationalError("server closed the connection unexpectedly")
        error.__cause__ = cause
        return error


@pytest.fixture
def lose_connection(monkeypatch: pytest.MonkeyPatch) -> Callable[..., list[int]]:
    """Make ``owner.name`` lose the connection on its first ``times`` calls (after running, if ``after``)."""

    def patch(owner: Any, name: str, *, times: int = 1, after: bool = False) -> list[int]:
        real = getattr(owner, name)
        calls: list[int] = []

        def losing(*args: Any, **kwargs: Any) -> Any:
            calls.append(1)
            result = real(*args, **kwargs) if after else None
            if len(calls) <= times:
                raise _lost()
            return result if after else real(*args, **kwargs)

        monkeypatch.setattr(owner, name, losing)
        return calls

    return patch


def test_a_write_whose_connection_was_lost_is_run_again_once_and_stored_once(
    api_for: Callable[[str], APIClient], lose_connection: Callable[..., list[int]]
) -> None:
    """The draft was written, then the connection lost: the first run rolled back, the second stored it."""
    before = StatusUpdate.objects.count()
    calls = lose_connection(services, "update_create", after=True)

    response = _client(api_for(roles.EDITOR)).post(f"{V1}/updates/", DRAFT, format="json")

    assert response.status_code == 201, response.content
    assert len(calls) == 2
    assert StatusUpdate.objects.count() == before + 1
    assert StatusUpdate.objects.filter(uuid=response.json()["uuid"]).exists()


def test_a_page_whose_connection_was_lost_is_answered(
    client_for: Callable[[str], Client], lose_connection: Callable[..., list[int]]
) -> None:
    import importlib

    releases_view = importlib.import_module("metrics.views.releases")

    calls = lose_connection(releases_view, "releases_list", times=2)
    response = _client(client_for(roles.BOARD_MEMBER)).get(reverse("dashboards:releases"))
    assert response.status_code == 200
    assert len(calls) == 3


@override_settings(DATABASE_RETRY_SECONDS=0.5)
def test_a_connection_lost_for_longer_than_allowed_is_a_500(
    api_for: Callable[[str], APIClient], lose_connection: Callable[..., list[int]]
) -> None:
    before = StatusUpdate.objects.count()
    calls = lose_connection(services, "update_create", times=100, after=True)
    response = _client(api_for(roles.EDITOR)).post(f"{V1}/updates/", DRAFT, format="json")
    assert response.status_code == 500
    assert response.json()["status"] == 500
    assert 2 <= len(calls) <= 4  # 0.1 + 0.2 s of pauses fit in 0.5 s; 0.4 s more do not
    assert StatusUpdate.objects.count() == before


@pytest.mark.parametrize(
    "error",
    [
        pytest.param(OperationalError("database is locked"), id="not psycopg2's"),
        pytest.param(ProgrammingError("relation does not exist"), id="a query's own failure"),
    ],
)
def test_other_database_errors_are_not_run_again(
    error: Exception, api_for: Callable[[str], APIClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []

    def failing(**kwargs: Any) -> Any:
        calls.append(1)
        raise error

    monkeypatch.setattr(services, "update_create", failing)
    response = _client(api_for(roles.EDITOR)).post(f"{V1}/updates/", DRAFT, format="json")
    assert response.status_code == 500
    assert calls == [1]

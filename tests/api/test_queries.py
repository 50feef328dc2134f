"""Each list and detail endpoint runs as many queries for one row as for a full page (or a large record)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.db.models import Count
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from commitments import roles
from commitments.models import Commitment, EvidenceLink, Organisation, StatusUpdate
from metrics.models import ReportingQuarter
from programmes.models import Programme
from tests.helpers import first, streamed

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("quarterly_figures")]
V1 = "/api/v1"

LISTS = [
    "deals",
    "documents",
    "frameworks",
    "themes",
    "foundations",
    "areas",
    "organisations",
    "programmes",
    "funding",
    "commitments",
    "updates",
    "quarters",
    "metrics",
]


@pytest.fixture(autouse=True)
def _several_quarters() -> None:
    for number in (2, 3, 4):
        ReportingQuarter.objects.get_or_create(year=2019, number=number)


def _queries(client: APIClient, url: str, params: dict[str, Any]) -> tuple[int, Any]:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, params)
    assert response.status_code == 200, response.content
    return len(captured), response.json()


@pytest.mark.parametrize("role", [roles.PARTNER, roles.REVIEWER])
@pytest.mark.parametrize("endpoint", LISTS)
def test_list_queries_do_not_grow_with_the_rows(
    api_for: Callable[[str], APIClient], django_assert_max_num_queries: Any, role: str, endpoint: str
) -> None:
    client = api_for(role)
    url = f"{V1}/{endpoint}/"
    one_row, body = _queries(client, url, {"page_size": 1})
    assert len(body["results"]) == 1
    with django_assert_max_num_queries(one_row):
        full = client.get(url, {"page_size": 50}).json()
    assert len(full["results"]) > 1


@pytest.mark.parametrize("role", [roles.PARTNER, roles.REVIEWER])
@pytest.mark.parametrize("endpoint", ["commitments", "updates"])
def test_cursor_pages_and_exports_do_not_grow_with_the_rows(
    api_for: Callable[[str], APIClient], django_assert_max_num_queries: Any, role: str, endpoint: str
) -> None:
    client = api_for(role)
    url = f"{V1}/{endpoint}/"
    one_row, _ = _queries(client, url, {"cursor": "", "page_size": 1})
    with django_assert_max_num_queries(one_row):
        assert len(client.get(url, {"cursor": "", "page_size": "50"}).json()["results"]) > 1
    # An export of a few rows and of all of them: one chunk either way, so the same queries.
    few = {"deal": "SD1"} if endpoint == "commitments" else {"commitment": "SD2-IDEAS-HARP-G1"}
    with CaptureQueriesContext(connection) as small:
        assert streamed(client.get(url, {"format": "csv", **few})).count(b"\n") > 1
    with django_assert_max_num_queries(len(small)):
        assert streamed(client.get(url, {"format": "csv"})).count(b"\n") > 10


def _commitment_urls() -> tuple[str, str]:
    ranked = Commitment.objects.published().annotate(
        size=Count("involvements", distinct=True) + Count("funding", distinct=True) + Count("children", distinct=True)
    )
    small = ranked.order_by("size", "reference").first()
    large = ranked.order_by("-size", "reference").first()
    assert small is not None
    assert large is not None
    return f"{V1}/commitments/{small.reference}/", f"{V1}/commitments/{large.reference}/"


def _organisation_urls() -> tuple[str, str]:
    ranked = Organisation.objects.annotate(n=Count("aliases"))
    return (
        f"{V1}/organisations/{first(ranked.order_by('n', 'name')).uuid}/",
        f"{V1}/organisations/{first(ranked.order_by('-n', 'name')).uuid}/",
    )


def _update_urls() -> tuple[str, str]:
    small, large = StatusUpdate.objects.published().order_by("pk")[:2]
    for number in range(5):
        EvidenceLink.objects.create(update=large, url=f"https://www.gov.uk/{number}", title=f"Evidence {number}")
    return f"{V1}/updates/{small.uuid}/", f"{V1}/updates/{large.uuid}/"


def _commitment_update_urls() -> tuple[str, str]:
    ranked = Commitment.objects.published().annotate(n=Count("updates")).filter(n__gt=0)
    return (
        f"{V1}/commitments/{first(ranked.order_by('n', 'reference')).reference}/updates/",
        f"{V1}/commitments/{first(ranked.order_by('-n', 'reference')).reference}/updates/",
    )


def _programme_urls() -> tuple[str, str]:
    by_name = Programme.objects.order_by("name")
    return f"{V1}/programmes/{first(by_name).uuid}/", f"{V1}/programmes/{first(by_name.reverse()).uuid}/"


DETAILS: dict[str, Callable[[], tuple[str, str]]] = {
    "commitment": _commitment_urls,
    "commitment updates": _commitment_update_urls,
    "organisation": _organisation_urls,
    "update": _update_urls,
    "programme": _programme_urls,
    "deal": lambda: (f"{V1}/deals/SD1/", f"{V1}/deals/SD2/"),
    "foundation": lambda: (f"{V1}/foundations/PLACES/", f"{V1}/foundations/IDEAS/"),
    "quarter": lambda: (f"{V1}/quarters/2019-20-Q1/", f"{V1}/quarters/2019-20-Q4/"),
}


@pytest.mark.parametrize("role", [roles.PARTNER, roles.REVIEWER])
@pytest.mark.parametrize("endpoint", DETAILS)
def test_detail_queries_do_not_grow_with_the_record(
    api_for: Callable[[str], APIClient], django_assert_max_num_queries: Any, role: str, endpoint: str
) -> None:
    client = api_for(role)
    small, large = DETAILS[endpoint]()
    assert small != large
    count, _ = _queries(client, small, {})
    with django_assert_max_num_queries(count):
        assert client.get(large).status_code == 200

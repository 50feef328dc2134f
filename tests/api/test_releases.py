"""The releases' endpoints: listing, one release by code, and its files downloaded unchanged."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.test import APIClient

from commitments import roles
from commitments.periods import Quarter
from metrics.models import Release, ReleaseFile
from metrics.release_files import FILE_NAMES
from metrics.releases import release_publish
from metrics.services import quarter_lock
from tests.helpers import ANONYMOUS, correct_text

QUARTER = Quarter(2019, 1)
BASE = "/api/v1/releases/"


@pytest.fixture(autouse=True)
def _eager_tasks(settings: Any) -> None:
    """Tasks run in-process, as on the embedded default, even when the suite runs with a broker: the release
    a sign-off enqueues is published before the test reads it."""
    settings.CELERY_TASK_ALWAYS_EAGER = True


@pytest.fixture
def released(user_with_role: Callable[..., Any], commit: Callable[[], None]) -> Release:
    """2019-20 Q1 signed off, its release published by the sign-off, and a restatement of it (version 2)."""
    reviewer = user_with_role(roles.REVIEWER)
    quarter_lock(quarter=QUARTER, user=reviewer)
    commit()
    correct_text("SD2-PEOPLE-G1", "Corrected text")
    return release_publish(quarter=QUARTER, user=reviewer, note="Target date corrected").release


@pytest.mark.parametrize("role", [roles.PARTNER, roles.BOARD_MEMBER, roles.REVIEWER])
def test_partners_and_staff_list_the_releases(
    released: Release, api_for: Callable[[str], APIClient], role: str
) -> None:
    answer = api_for(role).get(BASE)
    assert answer.status_code == 200
    results = answer.json()["results"]
    assert [row["code"] for row in results] == ["2019-20-Q1-v2", "2019-20-Q1-v1"]
    latest = results[0]
    assert latest["quarter"] == "2019-20-Q1"
    assert latest["version"] == 2
    assert latest["note"] == "Target date corrected"
    assert "published_by" not in latest  # who published it is not the partners' business
    assert [item["name"] for item in latest["files"]] == list(FILE_NAMES)
    first = latest["files"][0]
    assert first["url"] == "/api/v1/releases/2019-20-Q1-v2/files/commitments.csv/"
    assert first["media_type"] == "text/csv; charset=utf-8; header=present"


def test_the_list_is_filtered_by_quarter(released: Release, api_for: Callable[[str], APIClient]) -> None:
    client = api_for(roles.PARTNER)
    assert client.get(BASE, {"quarter": "2019-20-Q1"}).json()["count"] == 2
    assert client.get(BASE, {"quarter": "2019-20-Q2"}).json()["count"] == 0
    bad = client.get(BASE, {"quarter": "2019-20-Q9"})
    assert bad.status_code == 400
    assert "quarter" in bad.json()["fields"]
    unknown = client.get(BASE, {"version": "1"})
    assert unknown.status_code == 400
    assert "version" in unknown.json()["fields"]
    exported = client.get(BASE, {"format": "csv"})
    assert exported.status_code == 200
    assert b"2019-20-Q1-v2" in exported.getvalue()


def test_one_release_by_code(released: Release, api_for: Callable[[str], APIClient]) -> None:
    client = api_for(roles.PARTNER)
    answer = client.get(f"{BASE}2019-20-Q1-v1/")
    assert answer.status_code == 200
    assert answer.json()["version"] == 1
    assert answer.json()["note"] == ""
    for code in ("2019-20-Q1-v3", "2019-20-Q2-v1", "2019-20-Q1", "2019-20-Q1-v0", "x", "2019-20-Q1-v" + "9" * 30):
        missing = client.get(f"{BASE}{code}/")
        assert missing.status_code == 404, code
        assert missing.json()["code"] == "not_found"


def test_a_file_downloads_as_published_and_may_be_kept_for_good(
    released: Release, api_for: Callable[[str], APIClient]
) -> None:
    client = api_for(roles.PARTNER)
    stored = ReleaseFile.objects.get(release__version=1, name="delivery.csv")
    answer = client.get(f"{BASE}2019-20-Q1-v1/files/delivery.csv/", HTTP_ACCEPT="text/csv")
    assert answer.status_code == 200
    assert answer.content == bytes(stored.content)
    assert answer["Content-Type"] == "text/csv; charset=utf-8; header=present"
    assert answer["Content-Disposition"] == 'attachment; filename="delivery.csv"'
    assert answer["ETag"] == f'"{hashlib.sha256(answer.content).hexdigest()}"'
    assert "immutable" in answer["Cache-Control"]
    again = client.get(f"{BASE}2019-20-Q1-v1/files/delivery.csv/", HTTP_IF_NONE_MATCH=answer["ETag"])
    assert again.status_code == 304
    assert again["ETag"] == answer["ETag"]
    metadata = client.get(f"{BASE}2019-20-Q1-v2/files/csv-metadata.json/")
    assert metadata["Content-Type"] == "application/csvm+json"
    assert metadata.json()["@context"] == "http://www.w3.org/ns/csvw"
    giving = client.get(f"{BASE}2019-20-Q1-v2/files/funding-360giving.json/", HTTP_ACCEPT="application/json")
    assert giving["Content-Type"] == "application/json"
    assert giving.json()["version"] == "1.4"


def test_unknown_files_and_parameters_are_refused(released: Release, api_for: Callable[[str], APIClient]) -> None:
    client = api_for(roles.PARTNER)
    for path in ("2019-20-Q1-v1/files/secret.csv/", "2019-20-Q1-v9/files/delivery.csv/", "nope/files/delivery.csv/"):
        answer = client.get(f"{BASE}{path}")
        assert answer.status_code == 404, path
        assert answer["Content-Type"] == "application/json"
    odd = client.get(f"{BASE}2019-20-Q1-v1/files/delivery.csv/", {"format": "json"})
    assert odd.status_code == 400
    assert "format" in odd.json()["fields"]


def test_signing_in_is_needed(released: Release, api_for: Callable[[str], APIClient]) -> None:
    client = api_for(ANONYMOUS)
    assert client.get(BASE).status_code == 401
    assert client.get(f"{BASE}2019-20-Q1-v1/files/delivery.csv/").status_code == 401


def test_the_releases_cannot_be_written(released: Release, api_for: Callable[[str], APIClient]) -> None:
    client = api_for(roles.REVIEWER)
    assert client.post(BASE, {}, format="json").status_code == 405
    assert client.delete(f"{BASE}2019-20-Q1-v1/").status_code == 405
    assert Release.objects.count() == 2


def test_the_schema_documents_the_endpoints(api_for: Callable[[str], APIClient]) -> None:
    schema = APIClient().get("/api/schema/", {"format": "json"}).json()
    paths = schema["paths"]
    download = paths["/api/v1/releases/{code}/files/{name}/"]["get"]
    assert set(download["responses"]["200"]["content"]) == {"text/csv", "application/csvm+json", "application/json"}
    names = next(item for item in download["parameters"] if item["name"] == "name")
    assert set(names["schema"]["enum"]) == set(FILE_NAMES)
    listed = {item["name"] for item in paths["/api/v1/releases/"]["get"]["parameters"]}
    assert {"quarter", "page", "page_size"} <= listed

"""Inputs once found to give a 500, each answered as bad input: the API's JSON error, a GOV.UK page elsewhere.

The general property (no input gives a 500) is tested with generated input in ``test_fuzz_inputs.py``;
this table keeps each case found so far, on both databases (NUL only ever failed on PostgreSQL).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from django.test import Client
from rest_framework.test import APIClient

from commitments import roles
from commitments.models import StatusUpdate
from commitments.periods import Quarter
from metrics.services import metrics_recompute

# Request counts and kept answers never carry over from one test to the next.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_cache")]

ERROR_KEYS = {"status", "code", "detail", "fields"}


def assert_api_error(response: Any, statuses: set[int], field: str | None = None) -> dict[str, Any]:
    """The documented JSON error body, with the status it repeats (and the field it names)."""
    assert response.status_code in statuses, response.content[:500]
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = json.loads(response.content)
    assert set(body) == ERROR_KEYS, body
    assert body["status"] == response.status_code
    assert isinstance(body["detail"], str)
    assert body["detail"]
    assert isinstance(body["fields"], dict)
    if field is not None:
        assert field in body["fields"], body
    return body


def assert_govuk_page(response: Any, statuses: set[int]) -> None:
    """A GOV.UK error page with a way back."""
    assert response.status_code in statuses, response.content[:500]
    assert response["Content-Type"].startswith("text/html"), response["Content-Type"]
    page = response.content.decode()
    assert "govuk-frontend" in page
    assert "Go back to the quarter overview" in page


@pytest.fixture
def draft(draft_by_colleague: Callable[..., StatusUpdate]) -> StatusUpdate:
    """A draft update by an editor, which any editor may change."""
    return draft_by_colleague(submitted=False)


def _write(api_for: Callable[[str], APIClient], draft: StatusUpdate, method: str, target: str, **kwargs: Any) -> Any:
    url = {
        "draft": f"/api/v1/updates/{draft.uuid}/",
        "submit": f"/api/v1/updates/{draft.uuid}/submit/",
        "list": "/api/v1/updates/",
    }[target]
    if kwargs.get("HTTP_IF_MATCH") == "current":
        kwargs["HTTP_IF_MATCH"] = f'"{draft.version}"'
    return getattr(api_for(roles.EDITOR), method)(url, content_type="application/json", **kwargs)


@pytest.fixture
def board(client_for: Callable[..., Client]) -> Client:
    """A board member, with the figures of two quarters to read and compare."""
    metrics_recompute(quarters=[Quarter(2019, 1), Quarter(2019, 2)])
    return client_for(roles.BOARD_MEMBER)


# --- numbers: digits int() refuses, and more of them than it reads ------------------------------------


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/api/v1/commitments/?page=%C2%B2", "page"),
        ("/api/v1/commitments/?page_size=%C2%B2", "page_size"),
        ("/api/v1/commitments/?cursor=&page_size=%C2%B2", "page_size"),
        ("/api/v1/deals/?page=%C2%B2", "page"),
        ("/api/v1/commitments/?page=" + "9" * 5000, "page"),
    ],
)
def test_a_page_or_size_that_is_not_a_whole_number_is_a_400(
    api_for: Callable[[str], APIClient], url: str, field: str
) -> None:
    assert_api_error(api_for(roles.PARTNER).get(url), {400}, field)


@pytest.mark.parametrize(
    ("method", "target", "if_match"),
    [
        ("patch", "draft", '"²"'),
        ("post", "submit", '"²"'),
        ("post", "submit", 'W/"²"'),
        ("post", "submit", '"' + "9" * 5000 + '"'),
    ],
)
def test_an_if_match_that_is_not_a_version_is_a_400(
    api_for: Callable[[str], APIClient], draft: StatusUpdate, method: str, target: str, if_match: str
) -> None:
    body = json.dumps({"narrative": "Changed."})
    assert_api_error(_write(api_for, draft, method, target, data=body, HTTP_IF_MATCH=if_match), {400}, "If-Match")
    draft.refresh_from_db()
    assert draft.narrative == "Written by a colleague."


# --- JSON bodies: nesting that exhausts a parser, text the database cannot hold -------------------------

DEEP = 5000
UPDATE = {"commitment": "SD2-PEOPLE-G3", "as_of": "2019-09-30", "status": "in_progress", "narrative": "Written."}


def _deep(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize(
    ("method", "target", "body"),
    [
        pytest.param("patch", "draft", _deep(DEEP), id="deep-array"),
        pytest.param("patch", "draft", '{"narrative": ' + _deep(DEEP) + "}", id="deep-field"),
        pytest.param("post", "list", _deep(DEEP), id="deep-create"),
        pytest.param("post", "list", '{"a": ' * DEEP + "1" + "}" * DEEP, id="deep-objects"),
        pytest.param("post", "list", '{"evidence_links": [' + "{" * 50 + "}" * 50 + "]}", id="nested"),
        pytest.param("post", "list", json.dumps({**UPDATE, "commitment": "\x00"}), id="nul-reference"),
        pytest.param("post", "list", json.dumps({**UPDATE, "narrative": "\ud800"}), id="lone-surrogate"),
        pytest.param("patch", "draft", json.dumps({"narrative": "Changed.", "\x00": 1}), id="nul-key"),
        pytest.param("patch", "draft", '{"narrative": "Changed.", "progress": NaN}', id="nan"),
        pytest.param("patch", "draft", b'{"narrative": "\xff"}', id="not-utf-8"),
    ],
)
def test_a_body_too_deep_or_holding_nul_is_a_400(
    api_for: Callable[[str], APIClient], draft: StatusUpdate, method: str, target: str, body: str
) -> None:
    assert_api_error(_write(api_for, draft, method, target, data=body, HTTP_IF_MATCH="current"), {400})
    draft.refresh_from_db()
    assert draft.narrative == "Written by a colleague."


# --- quarters and days: one parser, refusing years no quarter can have -------------------------------------


@pytest.mark.parametrize(
    ("url", "statuses", "field"),
    [
        # Of a quarter code's form but no quarter there is: a filter naming nothing (404, naming it).
        ("/api/v1/metrics/?quarter=9999-00-Q4", {404}, "quarter"),
        ("/api/v1/metrics/?quarter=0000-01-Q1", {404}, "quarter"),
        ("/api/v1/metrics/?quarter=%D9%A2%D9%A0%D9%A1%D9%A9-20-Q1", {400}, "quarter"),
        ("/api/v1/quarters/9999-00-Q4/", {404}, None),
        ("/api/v1/quarters/0000-01-Q1/", {404}, None),
    ],
)
def test_api_quarters_out_of_range_are_refused(
    api_for: Callable[[str], APIClient], url: str, statuses: set[int], field: str | None
) -> None:
    assert_api_error(api_for(roles.PARTNER).get(url), statuses, field)


@pytest.mark.parametrize(
    "url",
    [
        "/?quarter=9999-00%20Q4",
        "/?quarter=0000-01%20Q1",
        "/commitments/SD2-PEOPLE-G3/?quarter=9999-00%20Q4",
        "/commitments/SD2-PEOPLE-G3/?quarter=0000-01%20Q1",
        "/funding/?quarter=9999-00%20Q4",
        "/board-pack/?quarter=0000-01%20Q1",
        "/?as_of=0001-01-01",
        "/?as_of=9999-12-31",
        "/?as_of=10000-01-01",
        "/commitments/SD2-PEOPLE-G3/?as_of=0001-01-01",
        "/changes/?since=9999-00%20Q4&as_of=2019-08-01",
        "/changes/?since=0000-01%20Q1",
        "/changes/?until=0000-01%20Q1",
        "/changes/?until=9999-00%20Q4",
        "/scope/actor/sector/?page=%C2%B2",
    ],
)
def test_dashboard_quarters_and_days_out_of_range_are_refused(board: Client, url: str) -> None:
    assert_govuk_page(board.get(url), {400})


def test_the_quarter_parser_refuses_years_out_of_range_with_a_validation_error() -> None:
    from django.core.exceptions import ValidationError

    assert Quarter.from_label("1900-01 Q1") == Quarter(1900, 1)
    assert Quarter.from_label("2999-00 Q4").end == date(3000, 3, 31)
    for label in ["1899-00 Q4", "3000-01 Q1", "9999-00 Q4", "0000-01 Q1"]:
        with pytest.raises(ValidationError, match="is not a quarter from 1900-01 Q1 to 2999-00 Q4"):
            Quarter.from_label(label)
    with pytest.raises(ValueError, match="write it like 2019-20 Q1"):
        Quarter.from_label("2019-21 Q1")


# --- NUL: PostgreSQL can neither store nor compare text holding it ------------------------------------------


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/api/v1/commitments/%00/", "path"),
        ("/api/v1/updates/%00/submit/", "path"),
        ("/api/v1/commitments/?search=%00", "search"),
        ("/api/v1/organisations/?name=a%00b", "name"),
        ("/api/v1/commitments/?%00=1", "parameter"),
        ("/api/schema/%00", "path"),
    ],
)
def test_api_nul_in_a_path_parameter_or_cursor_is_a_400(
    api_for: Callable[[str], APIClient], url: str, field: str
) -> None:
    assert_api_error(api_for(roles.PARTNER).get(url), {400}, field)


@pytest.mark.parametrize("url", ["/api/v1/commitments/?cursor=cD0A", "/api/v1/updates/?cursor=cD0A"])
def test_api_a_cursor_hiding_a_nul_was_never_handed_out(api_for: Callable[[str], APIClient], url: str) -> None:
    """Well formed (base64) but decoding to a NUL: no page is at that cursor, as for any cursor not handed out."""
    assert_api_error(api_for(roles.PARTNER).get(url), {404}, None)


def test_api_nul_is_refused_before_authentication() -> None:
    assert_api_error(APIClient().get("/api/v1/commitments/%00/"), {400}, "path")


@pytest.mark.parametrize(
    "url",
    [
        "/scope/area/%00/",
        "/commitments/%00/",
        "/breakdown/%00/",
        "/?quarter=%00",
        "/changes/?since=%00",
        "/breakdown/theme/?framework=%00",
    ],
)
def test_dashboard_nul_in_a_path_or_parameter_is_a_govuk_400_page(board: Client, url: str) -> None:
    assert_govuk_page(board.get(url), {400})


def test_the_admin_autocomplete_answers_a_nul_with_a_govuk_page(client_for: Callable[..., Client]) -> None:
    url = "/admin/autocomplete/?term=%00&app_label=commitments&model_name=commitment&field_name=parent"
    assert_govuk_page(client_for(None).get(url), {400})


def test_a_form_field_holding_a_nul_is_a_govuk_page(client: Client) -> None:
    response = client.post("/accounts/login/", {"username": "board\x00", "password": "a-long-enough-password"})
    assert_govuk_page(response, {400})


# --- every answer under /api/ is JSON, every other one a page of the service ------------------------------


def test_an_address_under_the_api_that_nothing_answers_is_a_json_404(api_for: Callable[[str], APIClient]) -> None:
    assert_api_error(api_for(roles.PARTNER).get("/api/nothing/"), {404})


def test_an_unexpected_failure_in_the_api_is_a_json_500(
    api_for: Callable[[str], APIClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    from metrics.api.glossary import GlossaryViewSet

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("a fault in the code")

    monkeypatch.setattr(GlossaryViewSet, "glossary", broken)
    client = api_for(roles.PARTNER)
    client.raise_request_exception = False
    body = assert_api_error(client.get("/api/v1/glossary/"), {500})
    assert body["code"] == "server_error"
    assert "a fault in the code" not in body["detail"]


def test_an_unexpected_failure_on_a_page_is_the_govuk_500_page(board: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    from metrics import dashboards

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("a fault in the code")

    monkeypatch.setattr(dashboards, "reporting_quarters", broken)
    board.raise_request_exception = False
    response = board.get("/")
    assert response.status_code == 500
    assert "Sorry, there is a problem with the service" in response.content.decode()

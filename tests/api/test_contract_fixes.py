"""The API takes exactly what its schema says: each case here is one that contract fuzzing once found.

A request the schema allows is never a 400 (an unknown record is a 404, a state that stands in the way a
409); a request it forbids is never accepted; and the schema says so where the server's rule is
particular (empty filters, cursors, If-Match, quarter codes, decimals).
"""

from __future__ import annotations

import base64
import io
import re
from collections.abc import Callable
from typing import Any

import pytest
from openpyxl import load_workbook
from rest_framework.test import APIClient

from commitments import roles
from commitments.models import Commitment, StatusUpdate, UpdateState

V1 = "/api/v1"
SCHEMA = "/api/schema/?format=json"


@pytest.fixture
def partner(api_for: Callable[[str], APIClient]) -> APIClient:
    return api_for(roles.PARTNER)


@pytest.fixture
def schema(partner: APIClient) -> dict[str, Any]:
    response = partner.get(SCHEMA)
    assert response.status_code == 200
    return response.json()


def _parameter(schema: dict[str, Any], path: str, name: str, method: str = "get") -> dict[str, Any]:
    return next(p for p in schema["paths"][path][method]["parameters"] if p["name"] == name)


# --- query strings -------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["area", "deal", "theme", "status", "overdue", "search", "updated_since"])
def test_a_filter_sent_empty_is_ignored_as_the_schema_says(
    partner: APIClient, schema: dict[str, Any], name: str
) -> None:
    everything = partner.get(f"{V1}/commitments/").json()["count"]
    response = partner.get(f"{V1}/commitments/?{name}=")
    assert response.status_code == 200, response.content
    assert response.json()["count"] == everything
    assert _parameter(schema, f"{V1}/commitments/", name)["allowEmptyValue"] is True


@pytest.mark.parametrize("query", ["page=", "page_size=", "ordering=", "format="])
def test_other_parameters_sent_empty_are_refused_and_the_schema_does_not_allow_it(
    partner: APIClient, schema: dict[str, Any], query: str
) -> None:
    name = query.rstrip("=")
    response = partner.get(f"{V1}/commitments/?{query}")
    assert response.status_code == 400
    assert name in response.json()["fields"]
    assert "allowEmptyValue" not in _parameter(schema, f"{V1}/commitments/", name)


def _rows(response: Any, export: str) -> list[Any]:
    content = b"".join(response.streaming_content)
    if export == "csv":
        return content.decode().splitlines()
    return list(load_workbook(io.BytesIO(content), read_only=True).active.iter_rows(values_only=True))


@pytest.mark.parametrize("export", ["csv", "xlsx"])
def test_an_export_takes_paging_parameters_and_still_holds_every_row(partner: APIClient, export: str) -> None:
    whole = partner.get(f"{V1}/updates/?format={export}")
    paged = partner.get(f"{V1}/updates/?format={export}&page=1&page_size=1&cursor=")
    assert whole.status_code == paged.status_code == 200, paged.content
    rows = _rows(paged, export)
    assert rows == _rows(whole, export)
    assert len(rows) > 2


def test_an_export_still_refuses_paging_values_the_schema_forbids(partner: APIClient) -> None:
    for query, name in [("page=0", "page"), ("page=abc", "page"), ("page_size=201", "page_size")]:
        response = partner.get(f"{V1}/commitments/?format=csv&{query}")
        assert response.status_code == 400, query
        assert name in response.json()["fields"]


def test_page_numbers_have_the_bound_the_server_takes(partner: APIClient, schema: dict[str, Any]) -> None:
    bound = _parameter(schema, f"{V1}/deals/", "page")["schema"]["maximum"]
    assert partner.get(f"{V1}/deals/?page={bound}").status_code == 404  # past the last page
    assert partner.get(f"{V1}/deals/?page={bound + 1}").status_code == 400


def test_a_cursor_walk_takes_page_and_ordering_and_goes_its_own_way(partner: APIClient) -> None:
    walk = partner.get(f"{V1}/commitments/?cursor=&page_size=5").json()
    with_both = partner.get(f"{V1}/commitments/?cursor=&page_size=5&page=3&ordering=-reference")
    assert with_both.status_code == 200, with_both.content
    assert [row["reference"] for row in with_both.json()["results"]] == [row["reference"] for row in walk["results"]]
    assert partner.get(f"{V1}/commitments/?cursor=&page=0").status_code == 400


def test_a_cursor_not_handed_out_is_not_found_and_one_not_of_cursor_characters_is_refused(
    partner: APIClient, schema: dict[str, Any]
) -> None:
    pattern = _parameter(schema, f"{V1}/commitments/", "cursor")["schema"]["pattern"]
    never_handed_out = ["AAA", base64.b64encode(b"p=not-a-date").decode()]
    for cursor in never_handed_out:
        assert re.search(pattern, cursor)
        response = APIClient.get(partner, f"{V1}/updates/", {"cursor": cursor})
        assert response.status_code == 404, (cursor, response.content)
    assert not re.search(pattern, "garbage!!")
    assert partner.get(f"{V1}/commitments/?cursor=garbage!!").status_code == 400


def test_a_filter_naming_no_record_is_not_found_and_a_malformed_one_refused(
    partner: APIClient, unpublished: Commitment
) -> None:
    for query, name in [
        ("theme=e3e70682-c209-1cac-a29f-6fbed82c07cd", "theme"),
        ("deal=NOPE", "deal"),
        ("organisation=00000000-0000-0000-0000-000000000000", "organisation"),
        # A partner cannot tell an unpublished commitment from one that does not exist.
        (f"commitment={unpublished.reference}", "commitment"),
        ("commitment=NOPE", "commitment"),
    ]:
        path = "updates" if name == "commitment" else "commitments"
        response = partner.get(f"{V1}/{path}/?{query}")
        assert response.status_code == 404, (query, response.content)
        assert response.json()["code"] == "not_found"
        assert name in response.json()["fields"]
    malformed = partner.get(f"{V1}/commitments/?theme=not-a-uuid&deal=NOPE")
    assert malformed.status_code == 400
    assert "theme" in malformed.json()["fields"]


def test_updated_since_takes_every_offset_a_date_time_may_have(partner: APIClient) -> None:
    for moment in ["2063-03-04T10:07:51+19:09", "0752-09-22T06:49:43-18:07", "0001-01-01T00:00:00+01:00"]:
        response = partner.get(f"{V1}/commitments/", {"updated_since": moment})
        assert response.status_code == 200, (moment, response.content)
    assert partner.get(f"{V1}/commitments/", {"updated_since": "yesterday"}).status_code == 400


def test_quarter_codes_follow_the_schema_pattern(partner: APIClient, schema: dict[str, Any]) -> None:
    pattern = _parameter(schema, f"{V1}/metrics/", "quarter")["schema"]["pattern"]
    assert re.search(pattern, "2019-20-Q1")
    assert partner.get(f"{V1}/metrics/?quarter=2019-20-Q1").status_code == 200
    # Of the code's form, but no quarter reported on: not found.
    for code in ["2019-25-Q1", "1899-00-Q2"]:
        assert re.search(pattern, code)
        assert partner.get(f"{V1}/metrics/?quarter={code}").status_code == 404
    for code in ["2019-20 Q1", "Q1", "x" * 16]:
        assert not re.search(pattern, code)
        assert partner.get(f"{V1}/metrics/", {"quarter": code}).status_code == 400


@pytest.mark.parametrize("method", ["put", "delete", "trace"])
def test_a_method_the_endpoint_lacks_is_405_whatever_the_query_string(partner: APIClient, method: str) -> None:
    response = partner.generic(method.upper(), f"{V1}/areas/?format=csv&page=0")
    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"


# --- writes --------------------------------------------------------------------------------------------


@pytest.fixture
def editor(api_for: Callable[[str], APIClient]) -> APIClient:
    return api_for(roles.EDITOR)


def _draft(**values: Any) -> dict[str, Any]:
    return {
        "commitment": "SD1-IDEAS-RD-G1",
        "as_of": "2020-01-01",
        "status": "in_progress",
        "narrative": "Done.",
    } | values


def test_an_empty_supersedes_is_refused_as_the_schema_says_a_uuid(editor: APIClient, schema: dict[str, Any]) -> None:
    field = schema["components"]["schemas"]["StatusUpdateWriteRequest"]["properties"]["supersedes"]
    assert field["format"] == "uuid"
    response = editor.post(f"{V1}/updates/", _draft(supersedes=""), format="json")
    assert response.status_code == 400
    assert "supersedes" in response.json()["fields"]
    assert editor.post(f"{V1}/updates/", _draft(supersedes=None), format="json").status_code == 201


def test_a_body_naming_no_record_is_not_found(editor: APIClient) -> None:
    for values, name in [
        ({"commitment": "NOPE"}, "commitment"),
        ({"supersedes": "e3e70682-c209-1cac-a29f-6fbed82c07cd"}, "supersedes"),
    ]:
        response = editor.post(f"{V1}/updates/", _draft(**values), format="json")
        assert response.status_code == 404, response.content
        assert name in response.json()["fields"]
    malformed: list[tuple[dict[str, Any], str]] = [
        ({"commitment": 5}, "commitment"),
        ({"supersedes": "x"}, "supersedes"),
    ]
    for values, name in malformed:
        response = editor.post(f"{V1}/updates/", _draft(**values), format="json")
        assert response.status_code == 400, response.content
        assert name in response.json()["fields"]
    assert not StatusUpdate.objects.filter(narrative="Done.").exists()


def test_a_second_statement_of_the_same_day_is_a_conflict(editor: APIClient) -> None:
    assert editor.post(f"{V1}/updates/", _draft(), format="json").status_code == 201
    again = editor.post(f"{V1}/updates/", _draft(narrative="Again."), format="json")
    assert again.status_code == 409
    assert again.json()["code"] == "conflict"
    assert "already" in again.json()["detail"]
    # Moving another draft onto that day is the same conflict.
    other = editor.post(f"{V1}/updates/", _draft(as_of="2020-02-01"), format="json")
    assert other.status_code == 201
    moved = editor.patch(
        f"{V1}/updates/{other.json()['uuid']}/", {"as_of": "2020-01-01"}, format="json", HTTP_IF_MATCH=other["ETag"]
    )
    assert moved.status_code == 409
    drafts = StatusUpdate.objects.filter(commitment__reference="SD1-IDEAS-RD-G1", state=UpdateState.DRAFT)
    assert sorted(str(day) for day in drafts.values_list("as_of", flat=True)) == ["2020-01-01", "2020-02-01"]


def test_money_takes_what_its_pattern_says(editor: APIClient, schema: dict[str, Any]) -> None:
    pattern = schema["components"]["schemas"]["StatusUpdateWriteRequest"]["properties"]["funding_spent"]["pattern"]
    for value in ["-1", ".", "1.123"]:
        assert not re.search(pattern, value)
        response = editor.post(f"{V1}/updates/", _draft(funding_spent=value), format="json")
        assert response.status_code == 400, value
    assert re.search(pattern, "")  # null, as the field allows


@pytest.mark.parametrize("header", ['"1"', 'W/"1"'])
def test_if_match_takes_what_its_pattern_says(
    api_for: Callable[[str], APIClient],
    draft_by_colleague: Callable[..., StatusUpdate],
    schema: dict[str, Any],
    header: str,
) -> None:
    pattern = _parameter(schema, f"{V1}/updates/{{uuid}}/submit/", "If-Match", "post")["schema"]["pattern"]
    update = draft_by_colleague(submitted=False)
    assert re.search(pattern, header)
    stale = header.replace("1", str(update.version + 1))
    response = api_for(roles.EDITOR).post(f"{V1}/updates/{update.uuid}/submit/", HTTP_IF_MATCH=stale)
    assert response.status_code == 412
    for junk in ["*", "abc", '"1", "2"', "1"]:
        assert not re.search(pattern, junk)
        refused = api_for(roles.EDITOR).post(f"{V1}/updates/{update.uuid}/submit/", HTTP_IF_MATCH=junk)
        assert refused.status_code == 400, junk


def test_evidence_links_take_the_web_addresses_their_pattern_gives(editor: APIClient, schema: dict[str, Any]) -> None:
    link = schema["components"]["schemas"]["EvidenceLinkRequest"]["properties"]["url"]
    long_host = "https://" + ".".join(["a" * 63] * 4) + ".aa/"
    for url in [long_host, "http://localhost/", "https://www.gov.uk:99999/", "https://www.gov.uk/a b"]:
        assert not re.search(link["pattern"], url)
        response = editor.post(f"{V1}/updates/", _draft(evidence_links=[{"url": url, "title": "T"}]), format="json")
        assert response.status_code == 400, url
    url = "https://assets.publishing.service.gov.uk/media/report%202019.pdf?page=2#summary"
    assert re.search(link["pattern"], url)
    accepted = editor.post(f"{V1}/updates/", _draft(evidence_links=[{"url": url, "title": "T"}]), format="json")
    assert accepted.status_code == 201, accepted.content


def test_text_of_white_space_alone_is_blank_and_the_schema_says_so(editor: APIClient, schema: dict[str, Any]) -> None:
    title = schema["components"]["schemas"]["EvidenceLinkRequest"]["properties"]["title"]
    assert not re.search(title["pattern"], "   ")
    links = [{"url": "https://www.gov.uk/", "title": "   "}]
    assert editor.post(f"{V1}/updates/", _draft(evidence_links=links), format="json").status_code == 400
    narrative = schema["components"]["schemas"]["StatusUpdateWriteRequest"]["properties"]["narrative"]
    assert not re.search(narrative["pattern"], " \n ")


def test_valid_values_a_rule_of_the_records_refuses_are_unprocessable_naming_the_field(editor: APIClient) -> None:
    before = StatusUpdate.objects.count()
    for values, field in [({"as_of": "2999-01-01"}, "as_of"), ({"funding_spent": "5.00"}, "funding_spent")]:
        response = editor.post(f"{V1}/updates/", _draft(commitment="SD1-IDEAS-RD-G1", **values), format="json")
        assert response.status_code == 422, (values, response.content)
        assert response.json()["code"] == "unprocessable"
        assert field in response.json()["fields"]
    assert StatusUpdate.objects.count() == before


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"narrative": 12345}, "narrative"),
        ({"progress": "40"}, "progress"),
        ({"progress": 40.0}, "progress"),
        ({"progress": True}, "progress"),
        ({"funding_spent": 5}, "funding_spent"),
        ({"evidence_links": [{"url": "https://www.gov.uk/", "title": 0}]}, "evidence_links"),
    ],
)
def test_a_value_of_another_json_type_than_the_schema_says_is_refused(
    editor: APIClient, values: dict[str, Any], field: str
) -> None:
    """Text must be a string, a whole number an integer, money a string: DRF alone would take 5 for "5"."""
    before = StatusUpdate.objects.count()
    response = editor.post(f"{V1}/updates/", _draft(commitment="SD1-IDEAS-RD-G1", **values), format="json")
    assert response.status_code == 400, (values, response.content)
    assert field in response.json()["fields"]
    assert StatusUpdate.objects.count() == before

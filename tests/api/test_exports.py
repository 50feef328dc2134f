"""CSV and XLSX exports of the API's lists: one column per field, every value of the JSON, typed Excel cells.

The files are read back the way a person's script would, following the rules docs/api.md gives: a nested
record's fields are dotted columns; a list of records is a column per field with a line per record; a
list of values is one cell joined by "; "; inside a list, a backslash, a line break and (in a "; " list) a
semicolon are escaped with a backslash. Decoding an export that way must give back the JSON list exactly.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook
from rest_framework.test import APIClient

from commitments import roles
from commitments.models import Commitment, EvidenceLink, Organisation, StatusUpdate
from commitments.services import EvidenceLinkData, update_approve, update_create, update_submit
from lsis.api.urls import router
from programmes.models import FundingAmount, Programme
from tests.helpers import first, streamed

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("quarterly_figures")]
V1 = "/api/v1"
LISTS = [prefix for prefix, _, _ in router.registry]
BOM = "\ufeff"


# --- reading an export back ----------------------------------------------------------------------------


def _csv(response: Any) -> tuple[list[str], list[dict[str, str]]]:
    assert response.status_code == 200, response.content
    text = streamed(response).decode("utf-8")
    assert text.startswith(BOM), "the CSV starts with a byte order mark, so that Excel reads UTF-8"
    rows = list(csv.reader(io.StringIO(text[1:], newline="")))
    header = rows[0]
    return header, [dict(zip(header, row, strict=True)) for row in rows[1:]]


def _xlsx(response: Any) -> list[list[Any]]:
    assert response.status_code == 200, response.content
    sheet = load_workbook(io.BytesIO(streamed(response))).active
    assert sheet.freeze_panes == "A2", "the header row stays in view"
    return [list(row) for row in sheet.iter_rows()]


def _split(text: str, separator: str) -> list[str]:
    """The items of ``text`` between unescaped separators, each unescaped (\\\\, \\n, \\r, \\;)."""
    items: list[str] = []
    current: list[str] = []
    index = 0
    while index < len(text):
        if text[index] == "\\" and index + 1 < len(text):
            current.append({"n": "\n", "r": "\r"}.get(text[index + 1], text[index + 1]))
            index += 2
        elif text.startswith(separator, index):
            items.append("".join(current))
            current = []
            index += len(separator)
        else:
            current.append(text[index])
            index += 1
    items.append("".join(current))
    return items


def _one(text: str) -> str:
    (value,) = _split(text, "\n")
    return value


def _values(text: str) -> list[str]:
    return [] if text == "" else _split(text, "; ")


def _plain(value: Any) -> Any:
    """A JSON value as an export writes it: text; null empty; booleans true/false (lists and records kept)."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _decode(shape: Any, name: str, row: dict[str, str], used: set[str]) -> Any:
    """The value at ``name`` rebuilt from the export's row, in the shape the JSON has there."""
    below = [column for column in row if column.startswith(f"{name}.")]
    if isinstance(shape, dict):
        return {key: _decode(item, f"{name}.{key}", row, used) for key, item in shape.items()}
    if isinstance(shape, list) and below:
        # A list of records: a column per field, a line per record.
        used.update(below)
        lines = {column: ([] if row[column] == "" else row[column].split("\n")) for column in below}
        count = max(len(found) for found in lines.values())
        for column, found in lines.items():
            assert len(found) in (0, count), f"{column}: {len(found)} lines, others {count}"
        fields = shape[0] if shape else {column[len(name) + 1 :]: "" for column in below}
        items = []
        for number in range(count):
            item: dict[str, Any] = {}
            for key, sample in fields.items():
                assert not isinstance(sample, dict), f"{name}.{key}: a record inside a list's record"
                line = lines[f"{name}.{key}"][number] if lines[f"{name}.{key}"] else ""
                item[key] = _values(line) if isinstance(sample, list) else _one(line)
            items.append(item)
        return items
    if shape is None and below:
        # A record that is not there: its columns are empty.
        used.update(below)
        assert all(row[column] == "" for column in below), f"{name} is null, yet its columns hold values"
        return ""
    assert name in row, f"{name} is in the JSON but not a column of the export"
    used.add(name)
    if isinstance(shape, list):
        return _values(row[name])
    return row[name]


def _walk_json(client: APIClient, url: str) -> list[dict[str, Any]]:
    """Every record of the JSON list, page after page."""
    records: list[dict[str, Any]] = []
    response = client.get(url, {"page_size": 200})
    while True:
        assert response.status_code == 200, response.content
        body = response.json()
        if not isinstance(body, dict):
            return records + list(body)
        records += body["results"]
        if not body.get("next"):
            return records
        response = client.get(body["next"])


def _as_text(value: Any, number_format: str) -> str:
    """An XLSX cell as the CSV writes the same value."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime) and number_format == "yyyy-mm-dd":
        return value.date().isoformat()
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, int | float):
        return str(value)
    return str(value)


def _same(xlsx: Any, number_format: str, text: str) -> bool:
    """Whether an XLSX cell holds the value of the CSV cell ``text`` (typed, or the same text)."""
    if isinstance(xlsx, datetime) and number_format != "yyyy-mm-dd":
        # Excel has no time zones: the JSON's moment, in UK local time, to the millisecond.
        moment = timezone.make_naive(datetime.fromisoformat(text))
        return abs(moment - xlsx) < timedelta(milliseconds=1)
    if isinstance(xlsx, int | float) and not isinstance(xlsx, bool):
        return Decimal(str(xlsx)) == Decimal(text)
    return _as_text(xlsx, number_format) == text


@pytest.fixture
def partner(api_for: Callable[[str], APIClient]) -> APIClient:
    return api_for(roles.PARTNER)


@pytest.fixture
def reviewer(api_for: Callable[[str], APIClient]) -> APIClient:
    return api_for(roles.REVIEWER)


# --- every field, every value ----------------------------------------------------------------------------


@pytest.mark.parametrize("role", [roles.PARTNER, roles.REVIEWER])
@pytest.mark.parametrize("endpoint", LISTS)
def test_every_value_of_the_json_list_is_in_the_export(
    api_for: Callable[[str], APIClient], role: str, endpoint: str
) -> None:
    client = api_for(role)
    url = f"{V1}/{endpoint}/"
    if client.get(url).status_code != 200:
        pytest.skip(f"{role} does not list {endpoint}")
    exported = client.get(url, {"format": "csv"})
    if exported.status_code == 400 and "format" in exported.json()["fields"]:
        pytest.skip(f"{endpoint} is not exported")
    records = _walk_json(client, url)
    header, rows = _csv(exported)
    assert len(header) == len(set(header)), "no column twice"
    assert len(rows) == len(records), "every matching row, not a page"
    used: set[str] = set()
    for record, row in zip(records, rows, strict=True):
        decoded = {key: _decode(shape, key, row, used) for key, shape in record.items()}
        assert decoded == _plain(record), f"{endpoint}: the export of {record} differs"
    if records:
        assert set(header) == used, f"{endpoint}: columns no record has: {set(header) - used}"

    # The workbook: the same columns, the same values, typed.
    sheet = _xlsx(client.get(url, {"format": "xlsx"}))
    assert [cell.value for cell in sheet[0]] == header
    assert len(sheet) - 1 == len(rows)
    for cells, row in zip(sheet[1:], rows, strict=True):
        for name, cell in zip(header, cells, strict=True):
            assert _same(cell.value, cell.number_format, row[name]), (endpoint, name, cell.value, row[name])


def test_nested_records_and_lists_are_a_column_per_field(partner: APIClient) -> None:
    header, _ = _csv(partner.get(f"{V1}/commitments/", {"format": "csv"}))
    for name in (
        "deal.code",
        "foundation.name",
        "themes.code",
        "organisations.role",
        "funding.key",
        "funding.amount_text",
        "funding.low",
        "funding.joint_funders",
        "delivery.status",
        "delivery.confidence",
        "delivery.progress",
        "delivery.as_of",
        "milestones.due_on",
        "depends_on.note",
        "children",
    ):
        assert name in header
    assert not {"deal", "delivery", "funding", "organisations"} & set(header)
    header, _ = _csv(partner.get(f"{V1}/updates/", {"format": "csv"}))
    assert header.index("evidence_links.title") == header.index("evidence_links.url") + 1
    assert not [name for name in header if name.startswith("workflow")], "partners never see the review"


# --- evidence links: urls kept, lines aligned, separators escaped, formulas neutralised ----------------------


@pytest.fixture
def evidenced(user_with_role: Callable[..., Any]) -> StatusUpdate:
    """An approved update of a published commitment citing three links, with awkward titles."""
    editor, approver = user_with_role(roles.EDITOR), user_with_role(roles.REVIEWER)
    commitment = first(Commitment.objects.published().filter(reference="SD2-IDEAS-HARP-G1"))
    links = [
        EvidenceLinkData(url="https://www.gov.uk/a", title='=HYPERLINK("http://x","y")'),
        EvidenceLinkData(url="https://www.gov.uk/b?x=1;y=2", title="Two lines:\nsecond; with \\ a backslash"),
        EvidenceLinkData(url="https://www.gov.uk/c", title="Plain"),
    ]
    update = update_create(
        commitment=commitment,
        author=editor,
        as_of=timezone.localdate() - timedelta(days=1),
        status="in_progress",
        narrative="Progress.\nMore on a second line.",
        funding_spent=Decimal("1234.50"),
        evidence_links=links,
    )
    return update_approve(update=update_submit(update=update, user=editor), reviewer=approver)


def test_evidence_links_keep_their_urls_and_titles_line_by_line(partner: APIClient, evidenced: StatusUpdate) -> None:
    params = {"commitment": evidenced.commitment.reference}
    _, rows = _csv(partner.get(f"{V1}/updates/", {**params, "format": "csv"}))
    row = next(row for row in rows if row["uuid"] == str(evidenced.uuid))
    # A line per link, in the JSON's order, in both columns.
    links = partner.get(f"{V1}/updates/{evidenced.uuid}/").json()["evidence_links"]
    assert {link["url"] for link in links} == {
        "https://www.gov.uk/a",
        "https://www.gov.uk/b?x=1;y=2",
        "https://www.gov.uk/c",
    }
    assert row["evidence_links.url"] == "\n".join(link["url"] for link in links)
    # A line break and a backslash inside a title are escaped; a hostile title starting the cell is quoted.
    written = {
        '=HYPERLINK("http://x","y")': '=HYPERLINK("http://x","y")',
        "Two lines:\nsecond; with \\ a backslash": "Two lines:\\nsecond; with \\\\ a backslash",
        "Plain": "Plain",
    }
    expected = "\n".join(written[link["title"]] for link in links)
    assert row["evidence_links.title"] == (f"'{expected}" if expected.startswith("=") else expected)
    # Outside a list a value is as it is, line breaks included.
    assert row["narrative"] == "Progress.\nMore on a second line."
    assert row["funding_spent"] == "1234.50"

    sheet = _xlsx(partner.get(f"{V1}/updates/", {**params, "format": "xlsx"}))
    names = [cell.value for cell in sheet[0]]
    cells = next(cells for cells in sheet[1:] if cells[names.index("uuid")].value == str(evidenced.uuid))
    urls = cells[names.index("evidence_links.url")]
    assert urls.value == row["evidence_links.url"]
    assert urls.alignment.wrap_text, "a line per link, as Excel shows it"
    titles = cells[names.index("evidence_links.title")]
    assert titles.value == row["evidence_links.title"]
    assert titles.data_type == "s"
    spent = cells[names.index("funding_spent")].value
    assert spent == Decimal("1234.5")
    as_of = cells[names.index("as_of")]
    assert as_of.value == datetime.combine(evidenced.as_of, datetime.min.time())
    assert as_of.number_format == "yyyy-mm-dd"


def test_empty_lists_and_empty_exports_keep_their_columns(partner: APIClient) -> None:
    full, rows = _csv(partner.get(f"{V1}/commitments/", {"format": "csv"}))
    unfunded = next(row for row in rows if not row["funding.key"])
    assert all(unfunded[name] == "" for name in full if name.startswith("funding."))
    # No row at all: still every column.
    empty, none = _csv(partner.get(f"{V1}/commitments/", {"format": "csv", "search": "zzzqqqxxx"}))
    assert none == []
    assert empty == full
    sheet = _xlsx(partner.get(f"{V1}/commitments/", {"format": "xlsx", "search": "zzzqqqxxx"}))
    assert [cell.value for cell in sheet[0]] == full
    assert len(sheet) == 1


# --- typed cells ------------------------------------------------------------------------------------------


def test_xlsx_cells_are_dates_numbers_and_booleans(partner: APIClient) -> None:
    commitment = first(Commitment.objects.published().filter(target_date__isnull=False).order_by("reference"))
    sheet = _xlsx(partner.get(f"{V1}/commitments/", {"format": "xlsx"}))
    names = [cell.value for cell in sheet[0]]
    cells = next(cells for cells in sheet[1:] if cells[0].value == commitment.reference)

    def at(name: str) -> Any:
        return cells[names.index(name)]

    assert commitment.target_date is not None
    assert at("target_date").value == datetime.combine(commitment.target_date, datetime.min.time())
    assert at("target_date").number_format == "yyyy-mm-dd"
    assert isinstance(at("position").value, int)
    assert isinstance(at("overdue").value, bool)
    assert at("published").value is True
    modified = at("modified_at")
    assert modified.number_format == "yyyy-mm-dd hh:mm:ss"
    assert abs(modified.value - timezone.make_naive(commitment.modified_at)) < timedelta(milliseconds=1)
    # Money and ratios are numbers.
    funding = _xlsx(partner.get(f"{V1}/funding/", {"format": "xlsx"}))
    names = [cell.value for cell in funding[0]]
    amount = first(FundingAmount.objects.filter(low__isnull=False, commitment__published=True))
    row = next(cells for cells in funding[1:] if cells[names.index("key")].value == amount.key)
    assert Decimal(str(row[names.index("low")].value)) == amount.low
    metrics = _xlsx(partner.get(f"{V1}/metrics/", {"format": "xlsx"}))
    names = [cell.value for cell in metrics[0]]
    shares = [cells[names.index("share_delivered")].value for cells in metrics[1:]]
    assert any(isinstance(share, int | float) for share in shares), shares[:5]
    assert all(share is None or isinstance(share, int | float) for share in shares)
    assert all(isinstance(cells[names.index("commitments")].value, int) for cells in metrics[1:])
    # A quarter's first and last days are dates (the serializer gives them as text).
    quarters = _xlsx(partner.get(f"{V1}/quarters/", {"format": "xlsx"}))
    names = [cell.value for cell in quarters[0]]
    start = quarters[1][names.index("start")]
    assert isinstance(start.value, datetime)
    assert start.number_format == "yyyy-mm-dd"


def test_xlsx_datetimes_are_uk_local_time(partner: APIClient, evidenced: StatusUpdate) -> None:
    summer = datetime(2025, 7, 1, 9, 30, tzinfo=UTC)  # 10:30 in London (BST)
    winter = datetime(2025, 1, 15, 9, 30, tzinfo=UTC)  # 09:30 in London (GMT)
    for moment, local in ((summer, datetime(2025, 7, 1, 10, 30)), (winter, datetime(2025, 1, 15, 9, 30))):
        StatusUpdate.objects.filter(pk=evidenced.pk).update(approved_at=moment)
        organisation = first(Organisation.objects.order_by("pk"))
        Organisation.objects.filter(pk=organisation.pk).update(modified_at=moment)
        params = {"commitment": evidenced.commitment.reference}
        sheet = _xlsx(partner.get(f"{V1}/updates/", {**params, "format": "xlsx"}))
        names = [cell.value for cell in sheet[0]]
        cells = next(cells for cells in sheet[1:] if cells[names.index("uuid")].value == str(evidenced.uuid))
        assert cells[names.index("approved_at")].value == local
        # The CSV has the JSON's text: UK local time with its offset.
        _, rows = _csv(partner.get(f"{V1}/updates/", {**params, "format": "csv"}))
        text = next(row for row in rows if row["uuid"] == str(evidenced.uuid))["approved_at"]
        assert datetime.fromisoformat(text) == moment
        assert text.startswith(local.isoformat())
        sheet = _xlsx(partner.get(f"{V1}/organisations/", {"name": organisation.name, "format": "xlsx"}))
        names = [cell.value for cell in sheet[0]]
        assert [cells[names.index("modified_at")].value for cells in sheet[1:]] == [local]


# --- formulas --------------------------------------------------------------------------------------------


def test_text_that_would_run_as_a_formula_is_quoted_in_every_kind_of_cell(
    partner: APIClient, evidenced: StatusUpdate
) -> None:
    hostile = "@SUM(A1)"
    involved = first(Commitment.objects.published().filter(deal__code="SD2", organisations__isnull=False))
    for number, organisation in enumerate(Organisation.objects.filter(commitments=involved)):
        Organisation.objects.filter(pk=organisation.pk).update(name=f"{hostile} {number}")
    params = {"deal": "SD2"}
    _, rows = _csv(partner.get(f"{V1}/commitments/", {**params, "format": "csv"}))
    row = next(row for row in rows if row["reference"] == involved.reference)
    # Every organisation of the commitment is named so: the cell starts with it, behind a quote.
    assert row["organisations.name"].startswith("'@SUM(A1)")
    sheet = _xlsx(partner.get(f"{V1}/commitments/", {**params, "format": "xlsx"}))
    for cells in sheet:
        for cell in cells:
            assert cell.data_type != "f", cell.value
            if isinstance(cell.value, str):
                assert not cell.value.startswith(("=", "@", "+")), cell.value
    # A list's first item starts its cell: quoted when it would run.
    EvidenceLink.objects.filter(pk=first(evidenced.evidence_links.order_by("pk")).pk).update(title="+1+1")
    _, updates = _csv(partner.get(f"{V1}/updates/", {"commitment": evidenced.commitment.reference, "format": "csv"}))
    titles = next(row for row in updates if row["uuid"] == str(evidenced.uuid))["evidence_links.title"]
    assert titles.startswith("'+1+1\n")


# --- cost ------------------------------------------------------------------------------------------------


def _few(endpoint: str) -> dict[str, str]:
    """A filter that leaves a few of the endpoint's rows."""
    if endpoint == "commitments":
        return {"deal": "SD1"}
    if endpoint == "updates":
        return {"commitment": "SD2-IDEAS-HARP-G1"}
    if endpoint == "organisations":
        return {"kind": first(Organisation.objects.order_by("kind")).kind}
    if endpoint == "programmes":
        return {"kind": first(Programme.objects.order_by("kind")).kind}
    if endpoint == "funding":
        return {"programme": str(first(Programme.objects.filter(funding__isnull=False).order_by("pk")).uuid)}
    if endpoint == "themes":
        return {"kind": "foundation"}
    if endpoint == "documents":
        return {"kind": "sector_deal"}
    return {"scope_type": "deal"}


@pytest.mark.parametrize("role", [roles.PARTNER, roles.REVIEWER])
@pytest.mark.parametrize(
    "endpoint", ["commitments", "updates", "funding", "metrics", "organisations", "programmes", "themes", "documents"]
)
@pytest.mark.parametrize("export", ["csv", "xlsx"])
def test_export_queries_do_not_grow_with_the_rows(
    api_for: Callable[[str], APIClient], django_assert_max_num_queries: Any, role: str, endpoint: str, export: str
) -> None:
    client = api_for(role)
    url = f"{V1}/{endpoint}/"
    few = _few(endpoint)
    with CaptureQueriesContext(connection) as small:
        response = client.get(url, {**few, "format": export})
        assert response.status_code == 200, response.content
        streamed(response)
    with django_assert_max_num_queries(len(small)):
        response = client.get(url, {"format": export})
        streamed(response)
    few_rows = len(_csv(client.get(url, {**few, "format": "csv"}))[1])
    all_rows = len(_csv(client.get(url, {"format": "csv"}))[1])
    assert 0 < few_rows < all_rows


def test_the_commitments_export_has_the_documented_shape(partner: APIClient) -> None:
    """The records are built without a serializer; the columns come from the one the schema documents."""
    from programmes.api.serializers import CommitmentSerializer

    header, _ = _csv(partner.get(reverse("api:commitment-list"), {"format": "csv"}))
    declared = list(CommitmentSerializer.Meta.fields)
    # Every declared field is there, in the declared order (its sub-fields next to one another).
    tops = list(dict.fromkeys(name.split(".")[0] for name in header))
    assert tops == declared

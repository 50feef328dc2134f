"""No spreadsheet the service writes holds a formula: every CSV and XLSX export, whoever asks for it.

Hostile text is put where people type it (a commitment's text, an update's narrative, an organisation's
name), then every export path runs: the API's CSV and XLSX of every list endpoint (as a partner and as
staff), the admin's CSV and XLSX export of every model that has one, and every table download of every
board dashboard and the board pack. The endpoints, admin exports and dashboard pages are read from the
URLconf and the admin registry, so a new one is checked too. A text cell that a spreadsheet program would
run (it starts with = + - @, a tab or a carriage return, also after spaces) must come out as text starting
with a single quote; numbers stay numbers.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import openpyxl
import pytest
from django.contrib import admin
from django.core.cache import cache
from django.test import Client
from django.urls import URLPattern, reverse
from django.utils import timezone
from import_export.admin import ExportMixin
from rest_framework.test import APIClient

from commitments import roles
from commitments.models import Commitment, CommitmentOrganisation
from commitments.periods import Quarter
from commitments.services import update_approve, update_create, update_submit
from lsis.api.tokens import api_token_issue
from lsis.api.urls import router
from metrics import dashboards
from metrics import urls as dashboard_urls
from metrics.engine import TRACKER_KEY
from metrics.services import metrics_recompute

pytestmark = pytest.mark.django_db

HOSTILE = ('=HYPERLINK("http://x","y")', "+1+1", "-2+3", "@SUM(A1)", "\t=1")
# Every hostile value, as it must come out: text, behind a single quote.
QUOTED = {"'" + value for value in HOSTILE}
# A negative figure written as text ("-3", "-1,250.5", "-12%") is a number to a spreadsheet, not a formula.
PLAIN_NUMBER = re.compile(r"-\d[\d,]*(\.\d+)?%?")
# Published commitments in an area, each with a lead organisation of its own.
REFERENCES = (
    "SD1-BUSENV-ATMP-G1.1",
    "SD1-BUSENV-ATMP-G1.2.1",
    "SD1-BUSENV-ATMP-G1.2.2",
    "SD1-BUSENV-SCALEUP-G1.1",
    "SD1-BUSENV-NHS-S1",
)


def _runs_as_formula(value: Any) -> bool:
    """Whether a spreadsheet program would treat this text cell as a formula (OWASP's CSV injection list)."""
    if not isinstance(value, str) or not value:
        return False
    if value[0] in "\t\r":
        return True
    stripped = value.lstrip()
    return stripped[:1] in ("=", "+", "-", "@") and not PLAIN_NUMBER.fullmatch(stripped)


# --- hostile data ----------------------------------------------------------------------------------------


@pytest.fixture
def hostile(user_with_role) -> list[Commitment]:
    """Five published commitments whose text, latest approved update and lead organisation are hostile text."""
    editor = user_with_role(roles.EDITOR)
    reviewer = user_with_role(roles.REVIEWER)
    today = timezone.localdate()
    commitments = []
    for index, (reference, value) in enumerate(zip(REFERENCES, HOSTILE, strict=True)):
        commitment = Commitment.objects.get(reference=reference)
        commitment.text = value
        commitment.published = True
        commitment.save()
        update = update_create(
            commitment=commitment,
            author=editor,
            as_of=today - timedelta(days=index + 1),
            status="in_progress",
            confidence="red",
            progress=10,
            narrative=value,
        )
        update_approve(update=update_submit(update=update, user=editor), reviewer=reviewer)
        organisation = CommitmentOrganisation.objects.filter(commitment=commitment).order_by("pk")[0].organisation
        organisation.name = value
        organisation.save()
        commitments.append(commitment)
    latest = Quarter.containing(today)
    metrics_recompute(quarters=[latest.previous(), latest])
    cache.clear()
    return commitments


# --- reading what came back ------------------------------------------------------------------------------


def _csv_cells(content: bytes) -> Iterator[str]:
    for row in csv.reader(io.StringIO(content.decode("utf-8-sig"), newline="")):
        yield from row


def _xlsx_cells(content: bytes) -> Iterator[Any]:
    book = openpyxl.load_workbook(io.BytesIO(content))
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", f"{sheet.title}!{cell.coordinate} is a formula: {cell.value!r}"
                yield cell.value


def _check(content: bytes, kind: str, where: str) -> set[str]:
    """Assert that no cell of the file runs as a formula; return the hostile values found (quoted)."""
    cells = list(_csv_cells(content) if kind == "csv" else _xlsx_cells(content))
    assert cells, f"{where}: the file is empty"
    running = [value for value in cells if _runs_as_formula(value)]
    assert not running, f"{where}: cells a spreadsheet would run as formulas: {running[:5]}"
    found = set()
    for value in cells:
        # A cell that starts with hostile text (inside a cell it is harmless: "Agency; =SUM(A1)").
        if isinstance(value, str) and any(value.removeprefix("'").startswith(hostile) for hostile in HOSTILE):
            assert value.startswith("'"), f"{where}: {value!r} is not quoted"
            found.add(value)
    return found


def _hostile_seen(found: set[str]) -> set[str]:
    """The hostile values that came out exactly as text (a cell holding just the value, quoted)."""
    return found & QUOTED


# --- the API ---------------------------------------------------------------------------------------------


def _api_lists() -> list[str]:
    """Every list endpoint of the API, from its router (so a new endpoint is checked too)."""
    return [reverse(f"api:{basename}-list") for _, _, basename in router.registry]


@pytest.mark.parametrize("role", [roles.PARTNER, roles.EDITOR])
def test_api_csv_and_xlsx_exports_hold_no_formula(hostile, user_with_role, role):
    user = user_with_role(role)
    seen: dict[str, set[str]] = {}
    for url in _api_lists():
        for kind in ("csv", "xlsx"):
            client = APIClient()
            _, token = api_token_issue(user=user, expires_in=None)  # a token per export: the export rate is low
            client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
            response = client.get(url, {"format": kind})
            if response.status_code == 400 and "format" in response.json()["fields"]:
                continue  # a list that is not exported (a feed read page by page)
            assert response.status_code == 200, (url, kind, response.status_code)
            content = response.getvalue()  # the whole body, streamed or not
            seen[f"{url}?format={kind}"] = _hostile_seen(_check(content, kind, f"{role} {url} {kind}"))
    for kind in ("csv", "xlsx"):
        # Text, narratives and names reach partners and staff alike: each endpoint carried all of them.
        assert seen[f"{reverse('api:commitment-list')}?format={kind}"] == QUOTED
        assert seen[f"{reverse('api:statusupdate-list')}?format={kind}"] == QUOTED
        assert seen[f"{reverse('api:organisation-list')}?format={kind}"] == QUOTED


def test_api_export_keeps_numbers_as_numbers(hostile, user_with_role):
    client = APIClient()
    _, token = api_token_issue(user=user_with_role(roles.EDITOR), expires_in=None)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    response = client.get(reverse("api:statusupdate-list"), {"format": "xlsx"})
    sheet = openpyxl.load_workbook(io.BytesIO(response.getvalue())).active
    rows = list(sheet.iter_rows(values_only=True))
    progress = rows[0].index("progress")
    assert any(isinstance(row[progress], int) for row in rows[1:]), "progress is a number cell"


# --- the admin -------------------------------------------------------------------------------------------


def _admin_exports() -> list[str]:
    """The export page of every model the admin exports (from the admin registry)."""
    return [
        reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_export")
        for model, model_admin in admin.site._registry.items()
        if isinstance(model_admin, ExportMixin)
    ]


def _admin_export(client: Client, url: str, kind: str) -> bytes:
    form = client.get(url).context["form"]
    data = {name: "on" for name, field in form.fields.items() if getattr(field, "is_selectable_field", False)}
    fmt = next(value for value, label in form.fields["format"].choices if str(label) == kind)
    data.update({"format": fmt, "resource": "0"})
    response = client.post(url, data)
    assert response.status_code == 200, (url, kind)
    assert response["Content-Disposition"].startswith("attachment;")
    return response.content


def test_admin_csv_and_xlsx_exports_hold_no_formula(hostile, client_for):
    client = client_for(roles.EDITOR)
    urls = _admin_exports()
    assert reverse("admin:commitments_commitment_export") in urls
    assert reverse("admin:commitments_statusupdate_export") in urls
    for url in urls:
        for kind in ("csv", "xlsx"):
            found = _check(_admin_export(client, url, kind), kind, f"admin {url} {kind}")
            assert _hostile_seen(found) == QUOTED, f"{url} {kind}: the hostile text did not all come out"


def test_admin_xlsx_export_keeps_numbers_and_dates(hostile, client_for):
    content = _admin_export(client_for(roles.EDITOR), reverse("admin:commitments_statusupdate_export"), "xlsx")
    sheet = openpyxl.load_workbook(io.BytesIO(content)).active
    rows = list(sheet.iter_rows())
    headers = [cell.value for cell in rows[0]]
    progress, as_of = headers.index("progress"), headers.index("as_of")
    assert any(row[progress].data_type == "n" and row[progress].value == 10 for row in rows[1:])
    assert all(row[as_of].is_date for row in rows[1:])


# --- the board dashboards --------------------------------------------------------------------------------

# Example arguments for the dashboard pages that take some; a new page with arguments must be added here.
# The board pack's PDF holds no table to download, nor do the list of search results and the tasks page.
NOT_TABLES = {"board_pack_pdf", "search", "tasks"}


def _page_arguments(commitments: list[Commitment]) -> dict[str, list[dict[str, str]]]:
    first = commitments[0]
    lead = CommitmentOrganisation.objects.filter(commitment=first).first()
    assert first.area is not None, "the first hostile commitment sits in an area"
    assert lead is not None, "the first hostile commitment has a lead organisation"
    return {
        "breakdown": [{"scope_type": scope_type} for scope_type in dashboards.BREAKDOWN_SCOPES],
        "scope": [
            {"scope_type": "tracker", "scope_key": TRACKER_KEY},
            {"scope_type": "area", "scope_key": first.area.code},
            {
                "scope_type": "lead_organisation",
                "scope_key": str(lead.organisation.uuid),
            },
        ],
        "commitment": [{"reference": commitment.reference} for commitment in commitments],
    }


def _dashboard_pages(commitments: list[Commitment]) -> list[str]:
    """Every dashboard page, from the URLconf."""
    examples = _page_arguments(commitments)
    pages = []
    for pattern in dashboard_urls.urlpatterns:
        assert isinstance(pattern, URLPattern)
        if pattern.name in NOT_TABLES:
            continue
        if not pattern.pattern.converters:
            pages.append(reverse(f"dashboards:{pattern.name}"))
            continue
        assert pattern.name in examples, f"add example arguments for dashboards:{pattern.name} to this test"
        pages.extend(reverse(f"dashboards:{pattern.name}", kwargs=kwargs) for kwargs in examples[pattern.name])
    return pages


def test_every_dashboard_csv_download_holds_no_formula(hostile, client_for):
    client = client_for(roles.BOARD_MEMBER)
    found: set[str] = set()
    downloads = 0
    pages = _dashboard_pages(hostile)
    assert reverse("dashboards:board_pack") in pages
    # The hostile commitments are chapter elaborations and sub-items: counted among everything, not the key ones.
    everything = {"population": "all"}
    for page in pages:
        response = client.get(page, everything)
        assert response.status_code == 200, page
        tables = re.findall(r"[?&]download=([\w-]+)", response.content.decode().replace("&amp;", "&"))
        assert tables, f"{page} offers no CSV download"
        for table in dict.fromkeys(tables):
            download = client.get(page, {**everything, "download": table})
            assert download.status_code == 200, (page, table)
            assert download["Content-Type"].startswith("text/csv")
            found |= _check(download.content, "csv", f"{page} {table}")
            downloads += 1
    assert downloads >= len(pages)
    # The commitments' text, their narratives and their organisations' names all reached some table.
    assert _hostile_seen(found) == QUOTED


# --- the one rule ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ('=HYPERLINK("http://x","y")', '\'=HYPERLINK("http://x","y")'),
        ("+1+1", "'+1+1"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\rtext", "'\rtext"),
        ("  =1+1", "'  =1+1"),
        ("\n@A1", "'\n@A1"),
        ("-£1.2m", "'-£1.2m"),
        ("Programme board met", "Programme board met"),
        ("Agency; =SUM(A1)", "Agency; =SUM(A1)"),
        ("-3", "-3"),
        ("-1,250.50", "-1,250.50"),
        ("-12%", "-12%"),
        ("", ""),
        (-3, -3),
        (None, None),
    ],
)
def test_safe_cell_quotes_text_that_would_run_and_nothing_else(value, written):
    from lsis.spreadsheets import safe_cell

    assert safe_cell(value) == written


def test_safe_cell_leaves_numbers_and_dates_as_they_are():
    from datetime import date
    from decimal import Decimal

    from lsis.spreadsheets import safe_cell

    for value in (Decimal("-1250000.50"), -2.5, 0, True, date(2025, 3, 31)):
        assert safe_cell(value) is value

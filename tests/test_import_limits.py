"""Cells that once failed after the preview (a huge number, a NUL character) are row problems at the preview."""

from __future__ import annotations

import csv
import io
import tempfile
from datetime import date, timedelta
from typing import Any

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from commitments import roles
from commitments.models import StatusUpdate
from commitments.resources import IMPORT_COLUMNS

pytestmark = pytest.mark.django_db

IMPORT_URL = reverse("admin:commitments_statusupdate_import")
PROCESS_URL = reverse("admin:commitments_statusupdate_process_import")
FUNDED = "SD2-IDEAS-HARP-G1"  # carries money
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture(autouse=True)
def _uploads_wait_in_a_temporary_folder_of_the_test(tmp_path, monkeypatch):
    """Between preview and confirmation the admin keeps the upload in the temp folder: use the test's own."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))


@pytest.fixture
def editor(client_for):
    return client_for(roles.EDITOR)


# --- files -----------------------------------------------------------------------------------------------


def _row(number: int = 0, **cells: Any) -> list[Any]:
    """An update row; ``number`` picks a distinct as-of date."""
    values = {
        "commitment": FUNDED,
        "as_of": (date(2024, 3, 31) - timedelta(days=number)).isoformat(),
        "status": "In progress",
        "confidence": "Amber",
        "progress": "40",
        "narrative": "Programme board met.",
        "funding_spent": "",
        "evidence_url": "",
        "evidence_title": "",
        **cells,
    }
    return [values[column] for column in IMPORT_COLUMNS]


def _csv(rows: list[list[Any]], headers: list[str] | tuple[str, ...] = IMPORT_COLUMNS) -> SimpleUploadedFile:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(headers)
    writer.writerows(rows)
    return SimpleUploadedFile("updates.csv", buffer.getvalue().encode("utf-8"), content_type="text/csv")


def _xlsx_bytes(rows: list[list[Any]], headers: list[str] | tuple[str, ...] = IMPORT_COLUMNS) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(list(headers))
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _xlsx(rows: list[list[Any]], headers: list[str] | tuple[str, ...] = IMPORT_COLUMNS) -> SimpleUploadedFile:
    return SimpleUploadedFile("updates.xlsx", _xlsx_bytes(rows, headers), content_type=XLSX_TYPE)


def _file(kind: str, rows: list[list[Any]], headers: list[str] | tuple[str, ...] = IMPORT_COLUMNS) -> Any:
    return _csv(rows, headers) if kind == "csv" else _xlsx(rows, headers)


def _upload(client: Any, upload: Any) -> Any:
    """Upload the file: the dry-run preview, or the problems."""
    title = "xlsx" if upload.name.endswith(".xlsx") else "csv"
    form = client.get(IMPORT_URL).context["form"]
    choice = next(value for value, label in form.fields["format"].choices if str(label) == title)
    response = client.post(IMPORT_URL, {"format": choice, "import_file": upload})
    assert response.status_code == 200
    return response


def _previewed(response: Any) -> bool:
    return response.context.get("confirm_form") is not None


def _problems(response: Any) -> dict[int, dict[str, list[str]]]:
    return {row.number: row.error_dict for row in response.context["result"].invalid_rows}


@pytest.fixture
def nothing_imported():
    before = StatusUpdate.objects.count()
    yield
    assert StatusUpdate.objects.count() == before


# --- cells that once failed after the preview -----------------------------------------------------------


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
@pytest.mark.parametrize("amount", ["1e30", 1e30, "1e999999", "-1e30"])
def test_a_huge_amount_spent_is_a_row_problem(editor, kind, amount, nothing_imported):
    if kind == "csv" and not isinstance(amount, str):
        amount = repr(amount)
    response = _upload(editor, _file(kind, [_row(funding_spent=amount)]))
    assert not _previewed(response)
    assert list(_problems(response)) == [2]
    assert list(_problems(response)[2]) == ["funding_spent"]


@pytest.mark.parametrize("progress", ["1e999999", "-1e30", "1e30"])
def test_a_huge_progress_is_a_row_problem(editor, progress, nothing_imported):
    response = _upload(editor, _csv([_row(progress=progress)]))
    assert list(_problems(response)) == [2]
    assert list(_problems(response)[2]) == ["progress"]
    assert len(response.content) < 200_000


@pytest.mark.parametrize("column", ["narrative", "commitment", "evidence_url", "evidence_title", "status"])
def test_a_nul_character_is_a_row_problem_at_the_preview(editor, column, nothing_imported):
    cells = {
        "narrative": "Programme board\x00 met.",
        "commitment": FUNDED + "\x00",
        "evidence_url": "https://example.org/\x00",
        "evidence_title": "Minutes\x00",
        "status": "In progress\x00",
    }
    extra = {"evidence_url": "https://example.org/minutes"} if column == "evidence_title" else {}
    response = _upload(editor, _csv([_row(), _row(1, **{**extra, column: cells[column]})]))
    assert not _previewed(response)
    problems = _problems(response)
    assert list(problems) == [3]
    assert any("NUL" in message for message in problems[3][column])

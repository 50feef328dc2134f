"""Limits on a spreadsheet upload: a file over one is refused on the import form at once, nothing imported.

Each limit (``IMPORT_MAX_*`` settings; the longest cell is the API's narrative limit) is tried one over
(refused, with its message) and, where cheap, exactly at it (the preview comes back). A workbook that
unzips to far more than its size is refused from its zip directory, before openpyxl parses it; 100,000
junk rows are refused while streaming through them. Row problems are listed for the first rows only, with
a count of the rest. Cells that once failed after the preview (a huge number, a NUL character) are row
problems at the preview.
"""

from __future__ import annotations

import csv
import io
import itertools
import math
import tempfile
import zipfile
from collections.abc import Iterable
from datetime import date, timedelta
from typing import Any

import openpyxl
import openpyxl.styles
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from rest_framework.fields import CharField

from commitments import roles
from commitments.imports import EXPORT_ONLY_COLUMNS, IMPORT_COLUMNS
from commitments.models import NARRATIVE_MAX_LENGTH, StatusUpdate

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


def _refused_at_once(response: Any, message: str) -> None:
    """Refused on the import form itself, with the message, before any row was checked."""
    assert not _previewed(response)
    assert response.context.get("result") is None, "refused before the rows were checked"
    errors = " ".join(str(error) for error in response.context["form"].errors.get("import_file", []))
    assert message in errors
    page = response.content.decode()
    assert "There is a problem" in page
    assert 'href="#id_import_file"' in page


def _problems(response: Any) -> dict[int, dict[str, list[str]]]:
    return {row.number: row.error_dict for row in response.context["result"].invalid_rows}


@pytest.fixture
def nothing_imported():
    before = StatusUpdate.objects.count()
    yield
    assert StatusUpdate.objects.count() == before


# --- upload size ----------------------------------------------------------------------------------------


def test_a_file_over_the_upload_limit_is_refused_at_once(editor, settings, nothing_imported):
    upload = _csv([_row()])
    assert upload.size is not None
    settings.IMPORT_MAX_UPLOAD_BYTES = upload.size - 1
    _refused_at_once(_upload(editor, upload), f"at most {upload.size - 1:,} bytes")


def test_a_file_at_the_upload_limit_is_previewed(editor, settings):
    upload = _csv([_row()])
    settings.IMPORT_MAX_UPLOAD_BYTES = upload.size
    assert _previewed(_upload(editor, upload))


# --- rows, columns, cells -------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_one_row_over_the_row_limit_is_refused(editor, settings, kind, nothing_imported):
    settings.IMPORT_MAX_ROWS = 3
    _refused_at_once(_upload(editor, _file(kind, [_row(n) for n in range(4)])), "more than 3 rows")


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_a_file_at_the_row_limit_is_previewed(editor, settings, kind):
    settings.IMPORT_MAX_ROWS = 3
    # Blank rows below the last update do not count (spreadsheet programs keep formatting there).
    preview = _upload(editor, _file(kind, [*(_row(n) for n in range(3)), [""] * len(IMPORT_COLUMNS)]))
    assert _previewed(preview)
    assert preview.context["result"].totals["new"] == 3


def test_formatting_far_beside_and_below_the_data_does_not_count(editor, settings):
    settings.IMPORT_MAX_ROWS = 2
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(list(IMPORT_COLUMNS))
    for number in range(2):
        sheet.append(_row(number))
        sheet.cell(row=number + 2, column=16_384).font = openpyxl.styles.Font(bold=True)  # column XFD
    sheet.cell(row=1_048_576, column=1).font = openpyxl.styles.Font(bold=True)  # the last row of a sheet
    buffer = io.BytesIO()
    book.save(buffer)
    preview = _upload(editor, SimpleUploadedFile("updates.xlsx", buffer.getvalue(), content_type=XLSX_TYPE))
    assert _previewed(preview)
    assert preview.context["result"].totals["new"] == 2


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_one_column_over_the_column_limit_is_refused(editor, settings, kind, nothing_imported):
    headers = [*IMPORT_COLUMNS, *EXPORT_ONLY_COLUMNS]
    settings.IMPORT_MAX_COLUMNS = len(headers)
    upload = _file(kind, [[*_row(), "Draft", "", "notes"]], headers)
    _refused_at_once(_upload(editor, upload), f"at most {len(headers)} columns")


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_a_file_at_the_column_limit_is_previewed(editor, settings, kind):
    headers = [*IMPORT_COLUMNS, *EXPORT_ONLY_COLUMNS]
    settings.IMPORT_MAX_COLUMNS = len(headers)
    assert _previewed(_upload(editor, _file(kind, [[*_row(), "Draft", "Someone"]], headers)))


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_a_cell_longer_than_a_narrative_may_be_is_refused(editor, kind, nothing_imported):
    upload = _file(kind, [_row(), _row(1, narrative="x" * (NARRATIVE_MAX_LENGTH + 1))])
    response = _upload(editor, upload)
    _refused_at_once(response, f"Row 3, column narrative: the cell holds {NARRATIVE_MAX_LENGTH + 1:,} characters")
    assert f"at most {NARRATIVE_MAX_LENGTH:,}" in response.content.decode()


def test_a_narrative_of_the_longest_length_imports(editor):
    preview = _upload(editor, _csv([_row(narrative="x" * NARRATIVE_MAX_LENGTH)]))
    assert _previewed(preview)
    editor.post(PROCESS_URL, dict(preview.context["confirm_form"].initial))
    assert StatusUpdate.objects.filter(narrative="x" * NARRATIVE_MAX_LENGTH).count() == 1


def test_the_api_and_the_import_hold_narratives_to_the_same_length():
    from commitments.api.serializers import StatusUpdateWriteSerializer

    narrative = StatusUpdateWriteSerializer().fields["narrative"]
    assert isinstance(narrative, CharField)
    assert narrative.max_length == NARRATIVE_MAX_LENGTH


def test_100000_junk_rows_are_refused_without_checking_them(editor, nothing_imported):
    junk = "".join(f"JUNK-{n},x,y\n" for n in range(100_000))
    upload = SimpleUploadedFile("junk.csv", (",".join(IMPORT_COLUMNS) + "\n" + junk).encode(), "text/csv")
    _refused_at_once(_upload(editor, upload), "more than 10,000 rows")


def test_a_file_over_a_limit_at_confirmation_is_not_imported(editor, settings, nothing_imported):
    """The limits are checked again on confirming (say they were lowered in between): a message, not an error."""
    preview = _upload(editor, _csv([_row(n) for n in range(3)]))
    settings.IMPORT_MAX_ROWS = 2
    response = editor.post(PROCESS_URL, dict(preview.context["confirm_form"].initial), follow=True)
    assert response.redirect_chain[-1][0] == IMPORT_URL
    shown = " ".join(str(message) for message in response.context["messages"])
    assert "Nothing was imported" in shown
    assert "more than 2 rows" in shown


# --- workbooks that unzip to too much -------------------------------------------------------------------


def _with_member(data: bytes, name: str, pieces: Iterable[bytes]) -> bytes:
    """The workbook with its member ``name`` written from ``pieces`` instead."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for member in source.infolist():
            if member.filename == name:
                with target.open(name, "w", force_zip64=True) as handle:
                    for piece in pieces:
                        handle.write(piece)
            else:
                target.writestr(member.filename, source.read(member.filename))
    return out.getvalue()


def _unzipped_and_zipped(data: bytes) -> tuple[int, int]:
    members = zipfile.ZipFile(io.BytesIO(data)).infolist()
    return sum(m.file_size for m in members), sum(m.compress_size for m in members)


def test_a_workbook_over_the_unzipped_limit_is_refused(editor, settings, nothing_imported):
    data = _xlsx_bytes([_row()])
    unzipped, _ = _unzipped_and_zipped(data)
    settings.IMPORT_MAX_UNCOMPRESSED_BYTES = unzipped - 1
    upload = SimpleUploadedFile("updates.xlsx", data, content_type=XLSX_TYPE)
    _refused_at_once(_upload(editor, upload), f"at most {unzipped - 1:,} bytes can be imported")
    settings.IMPORT_MAX_UNCOMPRESSED_BYTES = unzipped
    assert _previewed(_upload(editor, SimpleUploadedFile("updates.xlsx", data, content_type=XLSX_TYPE)))


def test_a_workbook_over_the_compression_ratio_is_refused(editor, settings, nothing_imported):
    data = _xlsx_bytes([_row()])
    unzipped, zipped = _unzipped_and_zipped(data)
    ratio = math.ceil(unzipped / zipped)
    settings.IMPORT_MAX_COMPRESSION_RATIO = ratio - 1
    upload = SimpleUploadedFile("updates.xlsx", data, content_type=XLSX_TYPE)
    _refused_at_once(_upload(editor, upload), f"less than {ratio - 1:,} times")
    settings.IMPORT_MAX_COMPRESSION_RATIO = ratio
    assert _previewed(_upload(editor, SimpleUploadedFile("updates.xlsx", data, content_type=XLSX_TYPE)))


def test_a_small_workbook_that_unzips_to_60_mb_is_refused_without_parsing(editor, monkeypatch, nothing_imported):
    import lsis.spreadsheets

    def never(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("openpyxl parsed the workbook")

    data = _xlsx_bytes([_row()])
    sheet = zipfile.ZipFile(io.BytesIO(data)).read("xl/worksheets/sheet1.xml")
    head, tail = sheet.split(b"</sheetData>")
    # The same sheet with 60 MB of blank rows: a few kilobytes zipped.
    blank_rows = itertools.repeat(b"<row/>" * 10_000, 1_000)
    bomb = _with_member(data, "xl/worksheets/sheet1.xml", itertools.chain([head], blank_rows, [b"</sheetData>" + tail]))
    assert len(bomb) < 1_000_000 < 50_000_000 < _unzipped_and_zipped(bomb)[0]
    monkeypatch.setattr(lsis.spreadsheets, "load_workbook", never)
    _refused_at_once(_upload(editor, SimpleUploadedFile("bomb.xlsx", bomb, content_type=XLSX_TYPE)), "once unzipped")


# --- the problem list -----------------------------------------------------------------------------------


def test_the_problem_list_shows_the_first_50_rows_and_counts_the_rest(editor, nothing_imported):
    response = _upload(editor, _csv([_row(n, status="Finished") for n in range(120)]))
    assert len(_problems(response)) == 120
    page = response.content.decode()
    assert "120 rows need correcting" in page
    assert page.count("<li>Row ") == 50
    assert "Row 51, status" in page
    assert "Row 52, status" not in page
    assert "and 70 more rows with errors" in page


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

"""CSV and XLSX exports of list endpoints (``?format=csv`` / ``?format=xlsx``), streamed.

Rows are read from the database in chunks (``QuerySet.iterator``, prefetching per chunk) and serialised
by the endpoint's own serializer, so an export has exactly the fields of the JSON list, flattened: a
nested record becomes its code, reference or name, a list of them a ``; ``-separated cell. CSV is
streamed to the client as it is produced. XLSX cannot be written front to back, so the workbook is
built in openpyxl's write-only mode in a temporary file (constant memory) and that file is streamed.
Every cell of both goes through ``lsis.spreadsheets.safe_cell``: text a spreadsheet program would run as
a formula is written behind a single quote, and numbers stay numbers.
"""

from __future__ import annotations

import csv
import tempfile
from collections.abc import Iterable, Iterator
from typing import Any

from django.http import FileResponse, StreamingHttpResponse
from openpyxl import Workbook
from rest_framework import renderers

from lsis.spreadsheets import safe_cell

CHUNK_SIZE = 500
XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_NAME_KEYS = ("reference", "code", "key", "name", "label", "title", "uuid")


class CSVRenderer(renderers.BaseRenderer):
    """Declares ``text/csv`` for content negotiation; list views stream the body themselves."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None) -> bytes:
        """Only reached for a body that is not a list (list views stream): refuse to mislabel it."""
        raise NotImplementedError("CSV is produced by streaming list views only.")


class XLSXRenderer(CSVRenderer):
    """Declares the XLSX media type for content negotiation."""

    media_type = XLSX_MEDIA_TYPE
    format = "xlsx"
    charset = None  # type: ignore[assignment]


def cell(value: Any) -> str | int | float | bool | None:
    """A serialised value as one spreadsheet cell."""
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, dict):
        for key in _NAME_KEYS:
            if key in value:
                return str(value[key])
        return "; ".join(f"{key}: {cell(item)}" for key, item in value.items() if item not in (None, ""))
    if isinstance(value, list | tuple):
        return "; ".join(str(cell(item)) for item in value)
    return str(value)


def _rows(header: list[str], records: Iterable[dict[str, Any]]) -> Iterator[list[Any]]:
    yield [safe_cell(name) for name in header]
    for record in records:
        yield [safe_cell(cell(record.get(name))) for name in header]


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_response(header: list[str], records: Iterable[dict[str, Any]], filename: str) -> StreamingHttpResponse:
    """Stream the records as CSV, one line at a time."""
    writer = csv.writer(_Echo())

    def lines() -> Iterator[str]:
        yield "\ufeff"  # the BOM makes Excel read UTF-8
        for row in _rows(header, records):
            yield writer.writerow(row)

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}.csv"'
    return response


def xlsx_response(header: list[str], records: Iterable[dict[str, Any]], filename: str) -> FileResponse:
    """Write the records to a write-only workbook in a temporary file, and stream that file."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=filename[:31])
    for row in _rows(header, records):
        sheet.append(row)
    handle = tempfile.TemporaryFile(suffix=".xlsx")  # noqa: SIM115 - the response closes (and so removes) it
    workbook.save(handle)
    handle.seek(0)
    return FileResponse(handle, as_attachment=True, filename=f"{filename}.xlsx", content_type=XLSX_MEDIA_TYPE)


def export_response(export_format: str, serializer: Any, records: Iterable[dict[str, Any]], filename: str) -> Any:
    """The records as a ``csv`` or ``xlsx`` download, with the columns of the endpoint's ``serializer``."""
    header = list(serializer.fields)
    if export_format == "csv":
        return csv_response(header, records, filename)
    return xlsx_response(header, records, filename)

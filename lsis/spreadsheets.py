"""Spreadsheets the service writes and reads: cells that never run as formulas, and limits on uploads.

**Writing.** Every CSV and XLSX the service writes passes each cell through ``safe_cell``, which follows
OWASP's advice on CSV injection: a text cell that a spreadsheet program would run as a formula (it starts
with ``=``, ``+``, ``-`` or ``@``, also after spaces, or with a tab or a carriage return) is written with
a single quote in front, so it is shown as the text it is. Numbers, dates and decimals are left as they
are, so a negative amount stays a number; so is a negative figure written as text ("-3", "-1,250.5",
"-12%"), which a spreadsheet reads as a number, never as a formula. A quoted string never starts with
``=``, so openpyxl writes it as a string, never as a formula. ``SafeExportResource`` applies it to every
value django-import-export exports.

**Reading.** An upload is checked against ``ImportLimits`` before the heavy work: its size first, then
(for a workbook) the sizes its zip archive declares, before openpyxl parses anything, then its rows,
columns and cells while streaming through them. A file over a limit is refused with
``SpreadsheetRefusedError``, whose message says in plain words which limit and what to do.

Nothing here knows what the spreadsheets are about; the import of status updates
(``commitments.imports``, through ``import_limits``) chooses the limits and reads the rows.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import tablib  # no type information (ignored in pyproject.toml); comes with django-import-export
from django.conf import settings
from import_export import resources
from openpyxl import load_workbook
from openpyxl.utils import get_column_letter

# --- Writing: no cell runs as a formula ----------------------------------------------------------------

_FORMULA_START = ("=", "+", "-", "@")
_CONTROL_START = ("\t", "\r")
_NEGATIVE_NUMBER = re.compile(r"-\d[\d,]*(\.\d+)?%?")


def safe_cell(value: Any) -> Any:
    """The value as a cell no spreadsheet program runs: risky text behind a single quote, the rest as it is."""
    if not isinstance(value, str) or not value:
        return value
    if value.startswith(_CONTROL_START):
        return "'" + value
    stripped = value.lstrip()
    if stripped.startswith(_FORMULA_START) and not _NEGATIVE_NUMBER.fullmatch(stripped):
        return "'" + value
    return value


class SafeExportResource(resources.ModelResource):
    """A django-import-export resource whose every exported value and heading goes through ``safe_cell``.

    The library's own ``IMPORT_EXPORT_ESCAPE_FORMULAE_ON_EXPORT`` deletes characters from the text (and
    misses ``+``, ``-``, ``@`` and tabs); quoting keeps the text whole.
    """

    def export_field(self, field: Any, instance: Any, **kwargs: Any) -> Any:
        """The field's value as the resource exports it, made safe."""
        return safe_cell(super().export_field(field, instance, **kwargs))

    def get_export_headers(self, selected_fields: Any = None) -> list[str]:
        """The column headings, made safe."""
        return [safe_cell(heading) for heading in super().get_export_headers(selected_fields=selected_fields)]


# --- Reading: limits on an upload ----------------------------------------------------------------------


_HEADING_SHOWN = 40  # a longer heading is named by its column letter in a message


class SpreadsheetRefusedError(ValueError):
    """The file breaks a limit; the message says which, in plain words, and what to do about it."""


@dataclass(frozen=True)
class ImportLimits:
    """How much an uploaded spreadsheet may hold (``IMPORT_MAX_*`` settings; docs/spreadsheets.md)."""

    max_upload_bytes: int
    max_rows: int  # rows below the headings
    max_columns: int
    max_cell_chars: int
    max_uncompressed_bytes: int  # a workbook's zip members, unzipped
    max_compression_ratio: int  # a workbook's unzipped size over its zipped size

    @classmethod
    def from_settings(cls, *, max_cell_chars: int) -> ImportLimits:
        """The limits the settings set; the longest cell is the caller's to say (its longest value)."""
        return cls(
            max_upload_bytes=settings.IMPORT_MAX_UPLOAD_BYTES,
            max_rows=settings.IMPORT_MAX_ROWS,
            max_columns=settings.IMPORT_MAX_COLUMNS,
            max_cell_chars=max_cell_chars,
            max_uncompressed_bytes=settings.IMPORT_MAX_UNCOMPRESSED_BYTES,
            max_compression_ratio=settings.IMPORT_MAX_COMPRESSION_RATIO,
        )


def _sizes(actual: int, limit: int) -> tuple[str, str]:
    """Two sizes in words, in bytes where megabytes would make them look the same."""

    def megabytes(size: int) -> str:
        return f"{size / 1_000_000:,.1f} MB"

    if megabytes(actual) != megabytes(limit):
        return megabytes(actual), megabytes(limit)
    return f"{actual:,} bytes", f"{limit:,} bytes"


def check_upload_size(size: int, limits: ImportLimits) -> None:
    """Refuse a file larger than the upload limit (before anything reads it)."""
    if size > limits.max_upload_bytes:
        actual, limit = _sizes(size, limits.max_upload_bytes)
        raise SpreadsheetRefusedError(
            f"The file is {actual}; a file to import may be at most {limit}. Split it into smaller files."
        )


def _trimmed(row: Sequence[Any]) -> list[Any]:
    """The row without its empty cells at the end (spreadsheet programs often write them)."""
    end = len(row)
    while end and (row[end - 1] is None or (isinstance(row[end - 1], str) and not row[end - 1].strip())):
        end -= 1
    return list(row[:end])


def _within_limits(rows: Iterable[Sequence[Any]], limits: ImportLimits, *, keep: bool) -> list[list[Any]]:
    """Go through the rows (the headings first), refusing the file at the first one over a limit.

    Blank rows do not count: a row counts if it, or a row below it, holds a value, so a sheet with
    formatting far below its data is not refused. With ``keep``, return the rows (blank ones as ``[]``,
    so each keeps its spreadsheet row number), without the blank rows at the end.
    """
    kept: list[list[Any]] = []
    headings: list[Any] = []
    for number, row in enumerate(rows, start=1):
        if len(row) > limits.max_columns and row[limits.max_columns :].count(None) == len(row) - limits.max_columns:
            # Empty cells far to the right (a styled cell at column XFD pads every row to 16,384): cut them
            # off at C speed before looking at the cells one by one.
            row = row[: limits.max_columns]
        values = _trimmed(row)
        if not values:
            if keep and number <= limits.max_rows + 1:
                kept.append([])
            continue
        if number > limits.max_rows + 1:
            raise SpreadsheetRefusedError(
                f"The file has more than {limits.max_rows:,} rows below the headings (row {number:,} holds "
                f"values). Import at most {limits.max_rows:,} rows at a time: split the file."
            )
        if len(values) > limits.max_columns:
            raise SpreadsheetRefusedError(
                f"Row {number:,} has values as far as column {len(values):,} ({get_column_letter(len(values))}); "
                f"a file may have at most {limits.max_columns:,} columns. Remove the columns that are not needed."
            )
        for index, value in enumerate(values):
            if isinstance(value, str) and len(value) > limits.max_cell_chars:
                heading = headings[index] if index < len(headings) else None
                named = isinstance(heading, str) and 0 < len(heading) <= _HEADING_SHOWN
                column = f"column {heading}" if named else f"column {get_column_letter(index + 1)}"
                raise SpreadsheetRefusedError(
                    f"Row {number:,}, {column}: the cell holds {len(value):,} characters; a cell may hold at most "
                    f"{limits.max_cell_chars:,}. Shorten it."
                )
        if number == 1:
            headings = values
        if keep:
            kept.append(values)
    while kept and not kept[-1]:
        kept.pop()
    return kept


def _csv_records(text: str, limits: ImportLimits) -> Iterator[list[str]]:
    """The CSV's records, read as tablib reads them; a record the csv module cannot read refuses the file."""
    reader = csv.reader(io.StringIO(text))
    number = 0
    while True:
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            if "field larger than field limit" in str(error):
                raise SpreadsheetRefusedError(
                    f"Row {number + 1:,}: a cell holds more than {csv.field_size_limit():,} characters; a cell may "
                    f"hold at most {limits.max_cell_chars:,}. Shorten it."
                ) from None
            raise
        number += 1
        yield record


def check_csv(text: str, limits: ImportLimits) -> None:
    """Stream through a CSV file's records, refusing it at the first one over a limit (nothing is kept)."""
    _within_limits(_csv_records(text, limits), limits, keep=False)


def check_workbook_archive(data: bytes, limits: ImportLimits) -> None:
    """Refuse a workbook whose zip members would unzip to too much, or whose compression is suspicious.

    Only the sizes the archive declares are read (nothing is unzipped); Python's zipfile never unzips a
    member to more than its declared size, so the declared sizes bound what openpyxl can read.
    """
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        members = archive.infolist()
    unzipped = sum(member.file_size for member in members)
    zipped = sum(member.compress_size for member in members)
    if unzipped > limits.max_uncompressed_bytes:
        actual, limit = _sizes(unzipped, limits.max_uncompressed_bytes)
        raise SpreadsheetRefusedError(
            f"This workbook holds {actual} once unzipped; at most {limit} can be imported. Copy only the rows "
            "to import into a new workbook, or split it into smaller files."
        )
    if zipped and unzipped > zipped * limits.max_compression_ratio:
        raise SpreadsheetRefusedError(
            f"This workbook unzips to {unzipped // zipped:,} times its size; an ordinary workbook of updates "
            f"unzips to less than {limits.max_compression_ratio:,} times. Copy the rows to import into a new "
            "workbook, save it, and upload that."
        )


def read_workbook(data: bytes, limits: ImportLimits) -> tablib.Dataset:
    """The first sheet of an Excel workbook as a dataset (the headings first), refused over a limit.

    The archive is checked before openpyxl opens it. openpyxl then reads the sheet row by row (read-only,
    values of formulas rather than the formulas), ignoring the size the sheet says it has (which a
    spreadsheet program can set far beyond the data), and stops at the first row over a limit.
    """
    check_workbook_archive(data, limits)
    book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    try:
        sheet = book.active
        sheet.reset_dimensions()
        rows = _within_limits(sheet.iter_rows(values_only=True), limits, keep=True)
    finally:
        book.close()
    dataset = tablib.Dataset()
    if not rows:
        return dataset
    width = max(len(row) for row in rows)
    headings, *body = (row + [None] * (width - len(row)) for row in rows)
    dataset.headers = headings
    for row in body:
        dataset.append(row)
    return dataset

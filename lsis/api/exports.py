r"""CSV and XLSX exports of list endpoints (``?format=csv`` / ``?format=xlsx``), streamed, one column per field.

**Columns.** They come from the endpoint's serializer, never from the rows, so an export has the same
columns whatever it holds (an empty list or no rows at all included); ``columns`` walks the serializer,
its nested serializers and the children of its list serializers, and reads a method field's type where
the schema does (``extend_schema_field``, else the method's return annotation).

- A nested record becomes a column per field, named by the dotted path: ``delivery.status``,
  ``delivery.confidence``, ``deal.code``.
- A list of values (references, UUIDs, names) is one cell, its items joined by ``"; "``.
- A list of records is a column per field of its records (``funding.key``, ``funding.low``,
  ``evidence_links.url``, ``evidence_links.title``), each cell holding one line per record, in the same
  order in every column: line 2 of ``evidence_links.url`` is the link whose title is line 2 of
  ``evidence_links.title``. A list inside such a record (an amount's ``joint_funders``) is that record's
  line, its items joined by ``"; "``.
- So that the separators stay unambiguous, inside a list item a backslash is written ``\\``, a line break
  ``\n`` (a carriage return ``\r``) and, in a list joined by ``"; "``, a semicolon ``\;``. Values that are
  not in a list are written exactly as they are. An empty or null value is an empty cell (or line).

**Values.** CSV holds the text of the JSON: dates and datetimes in ISO 8601 (datetimes in UK local time
with their UTC offset, as the JSON gives them), decimals as written, booleans ``true``/``false``. CSV
starts with a UTF-8 byte order mark, so that Excel opening the file reads it as UTF-8 (Python's
``utf-8-sig`` and most CSV readers skip it). XLSX holds typed cells: dates as dates (``yyyy-mm-dd``),
datetimes as datetimes in UK local time (``yyyy-mm-dd hh:mm:ss``; Excel has no time zones), integers and
decimals as numbers, booleans as booleans; a list's cell is its text, as in the CSV. Characters that an
XLSX file cannot hold (control characters other than tab and line breaks) are written as U+FFFD.

**Safety and memory.** Every text cell of both goes through ``lsis.spreadsheets.safe_cell``: text a
spreadsheet program would run as a formula is written behind a single quote; numbers, dates and booleans
are left as they are. Rows are read from the database in chunks by the view and written as they come:
CSV is streamed to the client as it is produced; XLSX cannot be written front to back, so the workbook is
built in openpyxl's write-only mode in a temporary file (constant memory) and that file is streamed.
"""

from __future__ import annotations

import csv
import enum
import json
import re
import tempfile
import types
import typing
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.http import FileResponse, StreamingHttpResponse
from django.utils import timezone
from drf_spectacular.drainage import get_override
from drf_spectacular.types import OpenApiTypes
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from rest_framework import renderers, serializers

from lsis.spreadsheets import safe_cell

CHUNK_SIZE = 500
XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# Between the records of a list of records (a line each), and between the items of a list of values.
LINE = "\n"
JOIN = "; "
DATE_FORMAT = "yyyy-mm-dd"
DATETIME_FORMAT = "yyyy-mm-dd hh:mm:ss"


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


# --- the columns, from the serializer ----------------------------------------------------------------


class Kind(enum.Enum):
    """What a column holds, which decides its XLSX cell type."""

    TEXT = "text"
    DATE = "date"
    DATETIME = "datetime"
    DECIMAL = "decimal"
    INTEGER = "integer"
    FLOAT = "float"
    BOOLEAN = "boolean"
    VALUES = "values"  # a list of values, one cell
    JSON = "json"  # a free-form object, as JSON text
    ANY = "any"  # undeclared: a date if it is one, else as it comes


_WIDTHS = {
    Kind.DATE: 12,
    Kind.DATETIME: 20,
    Kind.BOOLEAN: 9,
    Kind.INTEGER: 12,
    Kind.DECIMAL: 14,
    Kind.FLOAT: 14,
    Kind.VALUES: 40,
    Kind.JSON: 40,
    Kind.ANY: 14,
}
_MAX_WIDTH = 60


@dataclass(frozen=True)
class Column:
    """One column of an export: where its value is in a record and what kind of value it is."""

    name: str  # the dotted path, e.g. ``funding.low``
    path: tuple[str, ...]
    lists: frozenset[int]  # the positions in ``path`` whose value is a list of records
    kind: Kind
    width: int  # characters, for XLSX

    def value(self, record: Any) -> Any:
        """The column's value in a record; a list (of lists) where the path goes through lists of records."""
        return _walk(record, self.path, 0, self.lists)


def _walk(value: Any, path: tuple[str, ...], start: int, lists: frozenset[int]) -> Any:
    for index in range(start, len(path)):
        if not isinstance(value, dict):  # DRF's ReturnDict is one; a check against Mapping costs far more
            return None
        value = value.get(path[index])
        if index in lists:
            return [_walk(item, path, index + 1, lists) for item in value or ()]
    return value


def columns(serializer: Any) -> list[Column]:
    """The columns of an export of ``serializer``'s records, in the order it declares its fields."""
    return list(_columns(serializer.fields, (), frozenset()))


def _columns(fields: Mapping[str, Any], path: tuple[str, ...], lists: frozenset[int]) -> Iterator[Column]:
    for name, field in fields.items():
        if not getattr(field, "write_only", False):
            yield from _field_columns(_declared(field), (*path, name), lists)


def _field_columns(field: Any, path: tuple[str, ...], lists: frozenset[int]) -> Iterator[Column]:
    item = field.child if isinstance(field, serializers.ListSerializer | serializers.ListField) else None
    if item is not None and isinstance(item, serializers.BaseSerializer):
        yield from _field_columns(item, path, lists | {len(path) - 1})
    elif item is not None or isinstance(field, serializers.ManyRelatedField):
        yield _column(path, lists, Kind.VALUES, None)
    elif isinstance(field, serializers.Serializer):
        yield from _columns(field.fields, path, lists)
    elif isinstance(field, Kind):
        yield _column(path, lists, field, None)
    else:
        yield _column(path, lists, _kind(field), field)


def _column(path: tuple[str, ...], lists: frozenset[int], kind: Kind, field: Any) -> Column:
    name = ".".join(path)
    if kind is not Kind.TEXT:
        base = _WIDTHS[kind]
    elif isinstance(field, serializers.UUIDField) or getattr(field, "slug_field", None) == "uuid":
        base = 38
    elif isinstance(field, serializers.ChoiceField) and field.choices:
        base = max(len(str(choice)) for choice in field.choices) + 2
    else:
        # A short field's longest value; free text wide enough to read a line of it.
        length = getattr(field, "max_length", None)
        base = length + 2 if length and length <= 30 else 40
    if lists:
        base = max(base, 30)
    return Column(name, path, lists, kind, min(max(base, len(name) + 2), _MAX_WIDTH))


def _kind(field: Any) -> Kind:
    if isinstance(field, serializers.BooleanField):
        return Kind.BOOLEAN
    if isinstance(field, serializers.DateTimeField):
        return Kind.DATETIME
    if isinstance(field, serializers.DateField):
        return Kind.DATE
    if isinstance(field, serializers.DecimalField):
        return Kind.DECIMAL
    if isinstance(field, serializers.IntegerField):
        return Kind.INTEGER
    if isinstance(field, serializers.FloatField):
        return Kind.FLOAT
    if isinstance(field, serializers.JSONField | serializers.DictField | serializers.HStoreField):
        return Kind.JSON
    if isinstance(field, serializers.ReadOnlyField | serializers.SerializerMethodField):
        return Kind.ANY
    return Kind.TEXT


_OPENAPI_KINDS = {
    OpenApiTypes.DATE: Kind.DATE,
    OpenApiTypes.DATETIME: Kind.DATETIME,
    OpenApiTypes.BOOL: Kind.BOOLEAN,
    OpenApiTypes.INT: Kind.INTEGER,
    OpenApiTypes.INT32: Kind.INTEGER,
    OpenApiTypes.INT64: Kind.INTEGER,
    OpenApiTypes.NUMBER: Kind.FLOAT,
    OpenApiTypes.FLOAT: Kind.FLOAT,
    OpenApiTypes.DOUBLE: Kind.FLOAT,
    OpenApiTypes.DECIMAL: Kind.DECIMAL,
    OpenApiTypes.OBJECT: Kind.JSON,
}
_HINT_KINDS: dict[Any, Kind] = {
    str: Kind.TEXT,
    bool: Kind.BOOLEAN,
    int: Kind.INTEGER,
    float: Kind.FLOAT,
    Decimal: Kind.DECIMAL,
    datetime: Kind.DATETIME,
    date: Kind.DATE,
    dict: Kind.JSON,
}


def _declared(field: Any) -> Any:
    """The field as the schema declares it: a method field's declared type, a field class's override, or itself."""
    if isinstance(field, serializers.SerializerMethodField):
        method = getattr(field.parent, field.method_name, None)
        declared = get_override(method, "field") if method is not None else None
        return _schema_field(declared) if declared is not None else _hinted(method)
    declared = get_override(field, "field")
    return field if declared is None else _schema_field(declared)


def _schema_field(declared: Any) -> Any:
    """What ``extend_schema_field`` was given, as a field, a serializer or a kind."""
    if isinstance(declared, type) and issubclass(declared, serializers.Field):
        return declared()
    if isinstance(declared, serializers.Field):
        return declared
    if isinstance(declared, OpenApiTypes):
        return _OPENAPI_KINDS.get(declared, Kind.TEXT)
    if isinstance(declared, dict):
        kinds = {"boolean": Kind.BOOLEAN, "integer": Kind.INTEGER, "number": Kind.FLOAT, "object": Kind.JSON}
        if declared.get("type") == "array":
            return Kind.VALUES
        if declared.get("format") in ("date", "date-time"):
            return Kind.DATE if declared["format"] == "date" else Kind.DATETIME
        return kinds.get(declared.get("type", ""), Kind.TEXT)
    return Kind.ANY


def _hinted(method: Any) -> Kind:
    """The kind a method's return annotation names (``str | None`` is text); ANY when it names none."""
    try:
        hint = typing.get_type_hints(method).get("return")
    except Exception:  # an annotation that cannot be resolved declares nothing
        return Kind.ANY
    arguments = [argument for argument in typing.get_args(hint) if argument is not type(None)]
    if arguments and typing.get_origin(hint) in (typing.Union, types.UnionType):
        hint = arguments[0] if len(arguments) == 1 else None
    origin = typing.get_origin(hint) or hint
    if origin in (list, tuple):
        return Kind.VALUES
    return _HINT_KINDS.get(origin, Kind.ANY)


# --- cells -------------------------------------------------------------------------------------------

_ESCAPE_LINE = str.maketrans({"\\": "\\\\", "\n": "\\n", "\r": "\\r"})
_ESCAPE_JOINED = str.maketrans({"\\": "\\\\", "\n": "\\n", "\r": "\\r", ";": "\\;"})
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def text(value: Any) -> str:
    """A value as the CSV writes it (the JSON's text): empty for null, ``true``/``false``, ISO 8601 dates."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return timezone.localtime(value).isoformat() if timezone.is_aware(value) else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict | list | tuple):
        return json.dumps(value, ensure_ascii=False, default=str, separators=(",", ":"))
    return str(value)


def _joined(values: Any) -> str:
    return JOIN.join(_item(value, _ESCAPE_JOINED) for value in values or ())


def _item(value: Any, escape: dict[int, str]) -> str:
    if isinstance(value, list | tuple):
        return _joined(value)
    return text(value).translate(escape)


def cell_text(column: Column, value: Any) -> str:
    """The column's value as one cell of text: a list's items joined, escaped inside (see the module's docs)."""
    if column.lists:
        return LINE.join(_item(item, _ESCAPE_LINE) for item in value or ())
    if column.kind is Kind.VALUES and isinstance(value, list | tuple):
        return _joined(value)
    return text(value)


def _local(value: datetime) -> datetime:
    return timezone.make_naive(value) if timezone.is_aware(value) else value


def typed(column: Column, value: Any) -> Any:
    """The column's value as an XLSX cell value: dates, datetimes (UK local time), numbers, booleans or text."""
    if column.lists or column.kind in (Kind.VALUES, Kind.JSON, Kind.TEXT) or value is None or value == "":
        return cell_text(column, value) or None
    kind = column.kind
    try:
        if isinstance(value, bool) or kind is Kind.BOOLEAN:
            return value if isinstance(value, bool) else text(value)
        if kind is Kind.DATETIME or isinstance(value, datetime):
            moment = value if isinstance(value, datetime) else datetime.fromisoformat(value)
            return _local(moment)
        if isinstance(value, date):
            return value
        # An undeclared value is a date if it is written as one (a quarter's first day, say).
        if kind is Kind.DATE or (kind is Kind.ANY and isinstance(value, str) and _ISO_DATE.fullmatch(value)):
            return date.fromisoformat(value)
        if kind is Kind.DECIMAL:
            return value if isinstance(value, int | float | Decimal) else Decimal(value)
        if kind is Kind.INTEGER:
            return int(value)
        if kind is Kind.FLOAT:
            return float(value)
    except (TypeError, ValueError, InvalidOperation):
        pass  # not what the field declares: keep the text, never fail the export
    if isinstance(value, int | float | Decimal):
        return value
    return text(value)


# --- the files ---------------------------------------------------------------------------------------


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_response(header: list[Column], records: Iterable[Any], filename: str) -> StreamingHttpResponse:
    """Stream the records as CSV, one line at a time, behind a UTF-8 byte order mark."""
    writer = csv.writer(_Echo())

    def lines() -> Iterator[str]:
        yield "\ufeff"  # the BOM makes Excel read UTF-8
        yield writer.writerow([safe_cell(column.name) for column in header])
        for record in records:
            yield writer.writerow([safe_cell(cell_text(column, column.value(record))) for column in header])

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}.csv"'
    return response


def _xlsx_value(value: Any) -> Any:
    if isinstance(value, str):
        return safe_cell(ILLEGAL_CHARACTERS_RE.sub("\ufffd", value))
    return value


def xlsx_response(header: list[Column], records: Iterable[Any], filename: str) -> FileResponse:
    """Write the records to a write-only workbook in a temporary file, and stream that file."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=filename[:31])
    sheet.freeze_panes = "A2"
    for number, column in enumerate(header, start=1):
        sheet.column_dimensions[get_column_letter(number)].width = column.width
    bold = Font(bold=True)
    wrapped = Alignment(wrap_text=True, vertical="top")

    def heading(name: str) -> WriteOnlyCell:
        cell = WriteOnlyCell(sheet, value=_xlsx_value(name))
        cell.font = bold
        return cell

    def row(record: Any) -> Iterator[Any]:
        for column in header:
            value = _xlsx_value(typed(column, column.value(record)))
            if isinstance(value, str) and LINE in value:
                # Shown a line at a time: a list's records, or text of several lines.
                cell = WriteOnlyCell(sheet, value=value)
                cell.alignment = wrapped
                yield cell
            elif isinstance(value, date):
                cell = WriteOnlyCell(sheet, value=value)
                cell.number_format = DATETIME_FORMAT if isinstance(value, datetime) else DATE_FORMAT
                yield cell
            else:
                yield value

    sheet.append([heading(column.name) for column in header])
    for record in records:
        sheet.append(list(row(record)))
    handle = tempfile.TemporaryFile(suffix=".xlsx")  # noqa: SIM115 - the response closes (and so removes) it
    workbook.save(handle)
    handle.seek(0)
    return FileResponse(handle, as_attachment=True, filename=f"{filename}.xlsx", content_type=XLSX_MEDIA_TYPE)


def export_response(export_format: str, serializer: Any, records: Iterable[Any], filename: str) -> Any:
    """The records as a ``csv`` or ``xlsx`` download, with the columns of the endpoint's ``serializer``."""
    header = columns(serializer)
    if export_format == "csv":
        return csv_response(header, records, filename)
    return xlsx_response(header, records, filename)

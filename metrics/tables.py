"""Tables of the board dashboards: one structure rendered as an HTML table and downloadable as CSV.

A table holds plain text, links and tag colours; ``templates/dashboards/_table.html`` lays it out, its body's
cells written by ``Cell.markup`` (a template loop over every cell of a long table costs more than the page's
queries).

Every table a dashboard shows is built as a ``Table``, so every table can be downloaded (``?download=<id>``)
with exactly the figures on screen.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from html import escape
from typing import Any

from django.http import Http404, HttpResponse
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

from commitments.delivery import DeliveryConfidence, DeliveryStatus
from lsis.spreadsheets import safe_cell

# GOV.UK tag colours for the RAG ratings; the label always says the rating too (never colour alone).
CONFIDENCE_TAGS = {
    DeliveryConfidence.GREEN: "govuk-tag--green",
    DeliveryConfidence.AMBER_GREEN: "govuk-tag--turquoise",
    DeliveryConfidence.AMBER: "govuk-tag--yellow",
    DeliveryConfidence.AMBER_RED: "govuk-tag--orange",
    DeliveryConfidence.RED: "govuk-tag--red",
}
STATUS_TAGS = {
    DeliveryStatus.NOT_STARTED: "govuk-tag--grey",
    DeliveryStatus.IN_PROGRESS: "govuk-tag--blue",
    DeliveryStatus.DELIVERED: "govuk-tag--green",
    DeliveryStatus.NOT_BEING_PURSUED: "govuk-tag--purple",
}


# What a screen reader hears before an area's name, indented under its foundation.
AREA_HINT = '<span class="govuk-visually-hidden">Area: </span>'


@dataclass
class Cell:
    """One cell: its text, and optionally a link, a tag colour, or a right-aligned number."""

    text: str
    href: str = ""
    tag: str = ""
    numeric: bool = False
    header: bool = False
    hint: str = ""
    column: str = ""  # its column's header, shown beside the value where narrow screens stack the rows

    def markup(self) -> str:
        """The cell's element, escaped: a row header or a cell labelled with its column, holding a link, a tag or text.

        Plain string building (``html.escape``, as Django's ``escape`` does): a long table has hundreds of
        cells, and ``format_html`` for each cost more than the page's queries.
        """
        text = escape(str(self.text))
        if self.href:
            area = AREA_HINT if self.hint == "area" else ""
            content = f'<a class="govuk-link" href="{escape(self.href)}">{area}{text}</a>'
        elif self.tag:
            content = f'<strong class="govuk-tag {escape(self.tag)}">{text}</strong>'
        else:
            content = text
        if self.header:
            indent = " lsis-indent" if self.hint == "area" else ""
            return f'<th scope="row" role="rowheader" class="govuk-table__header{indent}">{content}</th>'
        numeric = " govuk-table__cell--numeric" if self.numeric else ""
        return f'<td role="cell" class="govuk-table__cell{numeric}" data-label="{escape(self.column)}">{content}</td>'


@dataclass
class Column:
    """A column's header; a sortable one links to the page sorted by it and says how the table is sorted."""

    text: str
    numeric: bool = False
    href: str = ""
    aria_sort: str = ""  # ascending, descending or none, on a sortable column

    @property
    def sort_hint(self) -> str:
        """The words a screen reader hears after a sortable header."""
        return {"ascending": " (sorted ascending)", "descending": " (sorted descending)"}.get(
            self.aria_sort, ", sort by this column"
        )


@dataclass
class Table:
    """A table with a caption; ``id`` names it in the download link."""

    id: str
    caption: str
    headers: Sequence[str]
    rows: list[list[Cell]] = field(default_factory=list)
    numeric_from: int = 1  # columns from this one on hold numbers
    empty: str = "Nothing to show."
    # column index -> (link that sorts by it, its aria-sort state: ascending, descending or none)
    sort_links: dict[int, tuple[str, str]] = field(default_factory=dict)

    @property
    def columns(self) -> list[Column]:
        """The header row: each column's text, whether it holds numbers, and its sort link if any."""
        columns = []
        for index, header in enumerate(self.headers):
            href, state = self.sort_links.get(index, ("", ""))
            columns.append(Column(header, numeric=index >= self.numeric_from, href=href, aria_sort=state))
        return columns

    @property
    def body_html(self) -> SafeString:
        """The body's rows (``Cell.markup``), or a row saying the table is empty."""
        if not self.rows:
            return format_html(
                '<tr class="govuk-table__row" role="row">'
                '<td role="cell" class="govuk-table__cell" colspan="{}">{}</td></tr>',
                len(self.headers),
                self.empty,
            )
        return mark_safe(  # noqa: S308 - every cell's text is escaped by Cell.markup
            "".join(
                '<tr class="govuk-table__row" role="row">' + "".join(cell.markup() for cell in row) + "</tr>"
                for row in self.rows
            )
        )

    @property
    def layout(self) -> str:
        """How wide the table needs to be: it stacks its rows below a width that grows with its columns.

        ``dashboards.css`` gives each layout the width below which every row becomes a list of "column:
        value" lines, so no table is ever wider than its box (docs: README, "Readable at every width").
        """
        columns = len(self.headers)
        return "narrow" if columns <= 4 else "medium" if columns <= 7 else "wide"

    def add(self, *cells: Cell | str | int | Decimal | None) -> None:
        """Append a row; plain values become cells (numbers right-aligned), each knowing its column's header."""
        row = [_cell(value, index, self.numeric_from) for index, value in enumerate(cells)]
        for cell, header in zip(row, self.headers, strict=False):
            cell.column = header
        self.rows.append(row)

    def csv_response(self, filename: str) -> HttpResponse:
        """The table as a CSV download."""
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{filename}-{self.id}.csv"'
        writer = csv.writer(response)
        writer.writerow([safe_cell(header) for header in self.headers])
        for row in self.rows:
            writer.writerow([safe_cell(cell.text) for cell in row])
        return response


def _cell(value: Cell | str | int | Decimal | None, index: int, numeric_from: int) -> Cell:
    if isinstance(value, Cell):
        return value
    if value is None:
        return Cell("", numeric=index >= numeric_from)
    if isinstance(value, int | Decimal) and not isinstance(value, bool):
        return Cell(f"{value:,}", numeric=True)
    return Cell(str(value), header=index == 0)


def download(tables: Iterable[Table], table_id: str, filename: str) -> HttpResponse:
    """The CSV of the table called ``table_id``; 404 if the page has no such table."""
    for table in tables:
        if table.id == table_id:
            return table.csv_response(filename)
    raise Http404(f"This page has no table called “{table_id}”.")


def money(value: Decimal | None) -> str:
    """Pounds in millions, e.g. £79.0m; an empty string for none."""
    if value is None:
        return ""
    return f"£{Decimal(value) / 1_000_000:,.1f}m"


def money_range(low: Decimal, high: Decimal) -> str:
    """£10.0m to £79.0m, or one figure where the ends agree."""
    return money(low) if low == high else f"{money(low)} to {money(high)}"


def percent(share: Decimal | None) -> str:
    """A share as a whole percentage, or "n/a"."""
    return "n/a" if share is None else f"{share * 100:.0f}%"


def day_text(day: date | None) -> str:
    """E.g. 31 Mar 2020; empty for none."""
    return f"{day:%-d %b %Y}" if day else ""


def confidence_cell(value: str) -> Cell:
    """A confidence rating as a tag that also names it."""
    if not value:
        return Cell("Not rated", tag="govuk-tag--grey")
    return Cell(str(DeliveryConfidence(value).label), tag=CONFIDENCE_TAGS[DeliveryConfidence(value)])


def status_cell(value: str) -> Cell:
    """A delivery status as a tag that names it."""
    return Cell(str(DeliveryStatus(value).label), tag=STATUS_TAGS[DeliveryStatus(value)])


def as_text(value: Any) -> str:
    """Any figure as a cell's text."""
    if isinstance(value, Decimal):
        return money(value)
    return f"{value:,}" if isinstance(value, int) else str(value)

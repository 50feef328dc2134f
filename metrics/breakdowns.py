"""A breakdown's rows in the order the reader asks for, a page at a time.

A breakdown by deal, theme, actor, lead organisation or programme lists one row of figures per scope
(``metrics.table_builders.figures_table``). Long ones (hundreds of lead organisations, dozens of programmes)
are sorted by any column on the server and shown a page at a time, by query parameters: ``sort`` (a key of
``BREAKDOWN_SORTS``), ``order`` (``asc`` or ``desc``) and ``page``, so every order and page has its address.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from django.core.paginator import Page

from metrics.dashboards import ScopeFigures

# What each sort key orders the rows by, and the start of the header of the figures table's column it sorts
# (``metrics.table_builders.FIGURE_HEADERS``; tests/test_breakdown_pages.py checks every column has one).
BREAKDOWN_SORTS: dict[str, tuple[str, Callable[[ScopeFigures], Any]]] = {
    "name": ("Name", lambda item: str(item.scope_label).casefold()),
    "commitments": ("Commitments", lambda item: item.commitments),
    "delivered": ("Delivered", lambda item: item.delivered),
    "share_delivered": ("Share delivered", lambda item: item.share_delivered),
    "on_track": ("On track", lambda item: item.on_track),
    "amber": ("Amber", lambda item: item.amber),
    "at_risk": ("At risk", lambda item: item.at_risk),
    "no_confidence": ("Not rated", lambda item: item.no_confidence),
    "overdue": ("Overdue", lambda item: item.overdue),
    "stale": ("No update this quarter", lambda item: item.stale),
    "progress_reported": ("Reporting progress", lambda item: item.progress_reported),
    "mean_progress": ("Mean progress", lambda item: item.mean_progress),
}
DEFAULT_SORT = "name"


def sort_columns(headers: Sequence[str]) -> dict[int, str]:
    """The sort key of each column of a figures table: the first column is the scope's name."""
    columns = {0: "name"}
    for index, header in enumerate(headers[1:], start=1):
        for key, (label, _) in BREAKDOWN_SORTS.items():
            if key != "name" and (header == label or header.startswith(label + " ")):
                columns[index] = key
    return columns


def sort_links(query: Callable[..., str], columns: dict[int, str], sort: str, order: str) -> dict[int, tuple[str, str]]:
    """Each sortable column's link and its ``aria-sort`` state, for ``metrics.tables.Table.sort_links``.

    The sorted column's link reverses its order; another column's sorts names A to Z and figures most first.
    ``query`` makes the page's query string from ``sort`` and ``order``.
    """
    links = {}
    for index, key in columns.items():
        if key == sort:
            state, flip = ("descending", "asc") if order == "desc" else ("ascending", "desc")
        else:
            state, flip = "none", "asc" if key == DEFAULT_SORT else "desc"
        links[index] = (query(sort=key, order=flip), state)
    return links


def breakdown_sorted(items: Sequence[ScopeFigures], *, sort: str, descending: bool) -> list[ScopeFigures]:
    """The rows ordered by ``sort``; rows without a value (a share of nothing) last either way, ties by name."""
    _, key = BREAKDOWN_SORTS[sort]
    by_name = sorted(items, key=lambda item: (str(item.scope_label).casefold(), item.scope_key))
    known = [item for item in by_name if key(item) is not None]
    unknown = [item for item in by_name if key(item) is None]
    return [*sorted(known, key=key, reverse=descending), *unknown]


@dataclass(frozen=True)
class PageLink:
    """One item of the GOV.UK pagination list: a page number with its address, or an ellipsis."""

    number: int | None
    href: str = ""
    current: bool = False


@dataclass(frozen=True)
class Pagination:
    """What the GOV.UK pagination component shows: the previous and next pages' addresses, and the list."""

    items: list[PageLink]
    previous: str = ""
    next: str = ""


def pagination(page: Page[Any], query: str) -> Pagination:
    """The links of ``templates/dashboards/_pagination.html``: the first, last, current and adjacent pages.

    ``query`` is the page's query string (starting with ``?``) without ``page``; gaps become an ellipsis.
    """
    last = page.paginator.num_pages
    wanted = sorted({1, last, page.number - 1, page.number, page.number + 1} & set(range(1, last + 1)))
    items: list[PageLink] = []
    for number in wanted:
        if items and number - (items[-1].number or 0) > 1:
            items.append(PageLink(None))
        items.append(PageLink(number, f"{query}&page={number}", number == page.number))
    return Pagination(
        items,
        previous=f"{query}&page={page.number - 1}" if page.has_previous() else "",
        next=f"{query}&page={page.number + 1}" if page.has_next() else "",
    )

"""Paging: page numbers for browsing, an opaque cursor for walking a whole list while it changes.

Every list takes ``page`` and ``page_size`` (1 to 200, default 50). The large lists (commitments,
status updates) also take ``cursor``: send ``cursor=`` (empty) to start, then follow ``next``. A cursor
walk sees each row once even if rows are added meanwhile; it has no ``count`` and a fixed order, so it
cannot be combined with ``page`` or ``ordering``. Bad values are refused with 400, never ignored.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property, partial
from typing import Any

from django.core.paginator import Paginator
from django.db.models import QuerySet
from rest_framework import exceptions, pagination
from rest_framework.request import Request
from rest_framework.response import Response

MAX_PAGE_SIZE = 200
DEFAULT_PAGE_SIZE = 50


def whole_number(raw: str) -> int | None:
    """``raw`` as a whole number of at most 18 digits 0 to 9 (any count, page or version fits), or None.

    ``str.isdigit`` alone is not the test: it is true of superscripts and other digits that ``int``
    refuses, and ``int`` refuses strings of more than 4,300 digits.
    """
    return int(raw) if len(raw) <= 18 and raw.isascii() and raw.isdigit() else None


def _page_size(request: Request) -> int:
    raw = request.query_params.get("page_size")
    if raw is None:
        return DEFAULT_PAGE_SIZE
    size = whole_number(raw)
    if size is None or not 1 <= size <= MAX_PAGE_SIZE:
        raise exceptions.ValidationError({"page_size": [f"Give a whole number from 1 to {MAX_PAGE_SIZE}."]})
    return size


class _CountedPaginator(Paginator):
    """Django's paginator, taking the row count from the view (which may have it cached)."""

    def __init__(self, object_list: Any, per_page: int, *, count_rows: Callable[[Any], int]) -> None:
        super().__init__(object_list, per_page)
        self._count_rows = count_rows

    @cached_property
    def count(self) -> int:
        """The number of rows, as the view counts them."""
        return self._count_rows(self.object_list)


class PageNumberPagination(pagination.PageNumberPagination):
    """Numbered pages; a page number or size that is not a whole number in range is a 400."""

    page_size = DEFAULT_PAGE_SIZE
    page_size_query_param = "page_size"
    max_page_size = MAX_PAGE_SIZE

    def get_page_size(self, request: Request) -> int:
        """The requested size, checked."""
        return _page_size(request)

    def paginate_queryset(self, queryset: Any, request: Request, view: Any = None) -> list[Any] | None:
        """Refuse a page number that is not a positive whole number."""
        raw = request.query_params.get(self.page_query_param)
        number = None if raw is None else whole_number(raw)
        if raw is not None and (number is None or number < 1):
            raise exceptions.ValidationError({"page": ["Give a page number: a whole number from 1."]})
        count_rows = getattr(view, "count_rows", None)
        if count_rows is not None:
            self.django_paginator_class = partial(_CountedPaginator, count_rows=count_rows)  # type: ignore[assignment]
        return super().paginate_queryset(queryset, request, view)

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        """``page`` and ``page_size``, with their ranges."""
        return [
            {
                "name": "page",
                "required": False,
                "in": "query",
                "description": "Page number, from 1.",
                "schema": {"type": "integer", "minimum": 1},
            },
            {
                "name": "page_size",
                "required": False,
                "in": "query",
                "description": f"Rows per page, 1 to {MAX_PAGE_SIZE} (default {DEFAULT_PAGE_SIZE}).",
                "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE},
            },
        ]

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        """The page envelope."""
        return {
            "type": "object",
            "required": ["next", "previous", "results"],
            "properties": {
                "count": {"type": "integer", "description": "Rows matching, over all pages."},
                "next": {"type": "string", "nullable": True, "format": "uri"},
                "previous": {"type": "string", "nullable": True, "format": "uri"},
                "results": schema,
            },
        }


class _Cursor(pagination.CursorPagination):
    cursor_query_param = "cursor"
    page_size_query_param = "page_size"
    max_page_size = MAX_PAGE_SIZE

    def get_page_size(self, request: Request) -> int:
        return _page_size(request)

    def get_ordering(self, request: Request, queryset: QuerySet[Any], view: Any) -> tuple[str, ...]:
        return tuple(view.cursor_ordering)

    def decode_cursor(self, request: Request) -> Any:
        invalid = exceptions.ValidationError(
            {"cursor": ["This cursor is not valid; start again with cursor= and follow the next links."]}
        )
        try:
            cursor = super().decode_cursor(request)
        except exceptions.NotFound:
            raise invalid from None
        # A position holding NUL is no row's: PostgreSQL refuses to compare text with it.
        if cursor is not None and "\x00" in str(cursor.position or ""):
            raise invalid
        return cursor


class BrowseOrWalkPagination(PageNumberPagination):
    """Page numbers, or (with ``cursor``) a cursor walk in the view's ``cursor_ordering``."""

    def __init__(self) -> None:
        self._cursor: _Cursor | None = None

    def paginate_queryset(self, queryset: Any, request: Request, view: Any = None) -> list[Any] | None:
        """Page by cursor when one is asked for."""
        if "cursor" not in request.query_params:
            return super().paginate_queryset(queryset, request, view)
        clashes = [name for name in ("page", "ordering") if name in request.query_params]
        if clashes:
            raise exceptions.ValidationError(
                {name: ["A cursor walk has its own order and no page numbers; leave this out."] for name in clashes}
            )
        self._cursor = _Cursor()
        return self._cursor.paginate_queryset(queryset, request, view)

    def get_paginated_response(self, data: Any) -> Response:
        """The envelope of whichever paging was used."""
        if self._cursor is not None:
            return self._cursor.get_paginated_response(data)
        return super().get_paginated_response(data)

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        """``page``, ``page_size`` and ``cursor``."""
        return [
            *super().get_schema_operation_parameters(view),
            {
                "name": "cursor",
                "required": False,
                "in": "query",
                "description": (
                    "Walk the whole list by cursor instead of page numbers: send it empty to start, then follow "
                    "`next`. Not combinable with `page` or `ordering`."
                ),
                "schema": {"type": "string"},
            },
        ]

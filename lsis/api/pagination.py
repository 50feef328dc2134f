"""Paging: page numbers for browsing, an opaque cursor for walking a whole list while it changes.

Every list takes ``page`` and ``page_size`` (1 to 200, default 50). The large lists (commitments,
status updates) also take ``cursor``: send ``cursor=`` (empty) to start, then follow ``next``. A cursor
walk sees each row once even if rows are added meanwhile; it has no ``count`` and a fixed order, so
``page`` and ``ordering`` are checked but choose nothing in a walk (as paging in an export). Bad values
are refused with 400, never ignored; a well-formed cursor this server did not hand out is a 404.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cached_property, partial
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.paginator import Paginator
from django.db.models import QuerySet
from rest_framework import exceptions, pagination
from rest_framework.request import Request
from rest_framework.response import Response

MAX_PAGE_SIZE = 200
DEFAULT_PAGE_SIZE = 50
# What a cursor is made of: base64 (DRF's encoding of its position), or nothing to start a walk.
CURSOR_PATTERN = "^[A-Za-z0-9+/=]*$"
_CURSOR_RE = re.compile(CURSOR_PATTERN.strip("^$"))


# The largest number ``whole_number`` takes (18 digits): the schema's bound on page numbers.
LARGEST_WHOLE_NUMBER = 10**18 - 1


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


def _page_number(request: Request) -> int | None:
    raw = request.query_params.get("page")
    if raw is None:
        return None
    number = whole_number(raw)
    if number is None or number < 1:
        raise exceptions.ValidationError({"page": ["Give a page number: a whole number from 1."]})
    return number


def check_paging_params(request: Request) -> None:
    """Refuse ``page`` or ``page_size`` values the schema does not allow (400), wherever they are sent."""
    _page_number(request)
    _page_size(request)


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
        _page_number(request)
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
                "description": "Page number, from 1; past the last page: 404.",
                "schema": {"type": "integer", "minimum": 1, "maximum": LARGEST_WHOLE_NUMBER},
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
        """The position a cursor names: 400 if it is not made of a cursor's characters, 404 if it names none.

        The schema gives a cursor's characters (``CURSOR_PATTERN``); a string of them that this server did
        not hand out names no position, which is "not found" (as DRF answers), not a malformed request.
        """
        raw = request.query_params.get(self.cursor_query_param) or ""
        if not _CURSOR_RE.fullmatch(raw):
            raise exceptions.ValidationError(
                {"cursor": ["This is not a cursor; start again with cursor= and follow the next links."]}
            )
        try:
            cursor = super().decode_cursor(request)
        except exceptions.NotFound:
            raise _unknown_cursor() from None
        # A position holding NUL is no row's: PostgreSQL refuses to compare text with it.
        if cursor is not None and "\x00" in str(cursor.position or ""):
            raise _unknown_cursor()
        return cursor

    def paginate_queryset(self, queryset: Any, request: Request, view: Any = None) -> list[Any] | None:
        """A page of the walk; a position that is no value of the ordering field is a cursor never handed out."""
        try:
            return super().paginate_queryset(queryset, request, view)
        except DjangoValidationError:
            raise _unknown_cursor() from None


def _unknown_cursor() -> exceptions.NotFound:
    return exceptions.NotFound("No page at this cursor; start again with cursor= and follow the next links.")


class BrowseOrWalkPagination(PageNumberPagination):
    """Page numbers, or (with ``cursor``) a cursor walk in the view's ``cursor_ordering``."""

    def __init__(self) -> None:
        self._cursor: _Cursor | None = None

    def paginate_queryset(self, queryset: Any, request: Request, view: Any = None) -> list[Any] | None:
        """Page by cursor when one is asked for; a walk checks ``page`` but has no page numbers."""
        if "cursor" not in request.query_params:
            return super().paginate_queryset(queryset, request, view)
        # The schema cannot make ``page`` and ``ordering`` depend on ``cursor``, so a walk takes them
        # (checked like anywhere else) and goes its own way: its order is fixed and it has no numbers.
        _page_number(request)
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
                    "`next`. A walk has its own order and no page numbers: `page` and `ordering` are ignored. "
                    "A cursor this server did not hand out: 404."
                ),
                "schema": {"type": "string", "pattern": CURSOR_PATTERN},
            },
        ]

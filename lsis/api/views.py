"""The base of every API view: strict query strings, scoped throttles, conditional GET, exports, JSON errors."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterator
from datetime import datetime, time
from time import time as time_now
from typing import Any, TypeVar, cast

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpResponse, HttpResponseBase, HttpResponseNotModified
from django.utils import timezone
from django.utils.cache import get_conditional_response
from django.utils.http import http_date, parse_http_date_safe, quote_etag
from drf_orjson_renderer.renderers import ORJSONRenderer as JSONRenderer  # type: ignore[import-untyped]
from rest_framework import exceptions, filters, viewsets
from rest_framework.permissions import SAFE_METHODS
from rest_framework.request import Request
from rest_framework.response import Response

from lsis.api.errors import PreconditionFailed, PreconditionRequired
from lsis.api.exports import CHUNK_SIZE, CSVRenderer, XLSXRenderer, export_response
from lsis.api.filters import StrictFilterBackend
from lsis.api.pagination import BrowseOrWalkPagination, check_paging_params, whole_number
from lsis.api.schema import IF_MATCH_PATTERN
from lsis.core.changes import request_data_stamp
from lsis.retry import writes_in_one_transaction

EXPORT_FORMATS = ("csv", "xlsx")
PAGING_PARAMS = ("page", "page_size")
# Parameters that choose a page or a format but not which rows match.
PAGE_PARAMS = {*PAGING_PARAMS, "cursor", "format"}
# How long derived values (row counts, permissions) stay cached: their keys change with the data stamp
# anyway, so this only bounds the memory they hold.
DERIVED_CACHE_SECONDS = 600
T = TypeVar("T")
# The If-Match header a write takes (the schema's pattern), with the version named.
_IF_MATCH_RE = re.compile(IF_MATCH_PATTERN.strip("^$").replace("[0-9]{1,18}", "(?P<version>[0-9]{1,18})"))


class ReadValidators:
    """The ETag and Last-Modified of a read, known before the answer is built (from the data stamp).

    The answer to a GET depends only on the data, the day (a commitment becomes overdue when its target
    date passes), who asks, the absolute URL (paging links carry its host) and the format; the ETag is
    a digest of exactly these. Last-Modified is when the data last changed, or midnight if that is
    later.
    """

    def __init__(self, request: Request) -> None:
        stamp = request_data_stamp(request)
        self.usable = stamp is not None
        if stamp is None:
            return
        today = timezone.localdate()
        self._scope = (stamp.epoch, stamp.version, today, *reader_identity(request.user))
        # The absolute address: paging links in the answer carry the scheme and host it was asked at.
        address = request.build_absolute_uri()
        self.etag = quote_etag(f"{stamp.version}-{self.digest(address, request.accepted_media_type)}")
        midnight = timezone.make_aware(datetime.combine(today, time.min))
        self.last_modified = max(stamp.changed_at, int(midnight.timestamp()))

    def digest(self, *parts: Any) -> str:
        """A digest of ``parts`` with the data stamp, the day and the user: a key that changes when they do."""
        key = "|".join(map(str, (*self._scope, *parts)))
        return hashlib.md5(key.encode(), usedforsecurity=False).hexdigest()[:20]

    def headers(self) -> dict[str, str]:
        """The validators as response headers."""
        return {"ETag": self.etag, "Last-Modified": http_date(self.last_modified)}


def reader_identity(user: Any) -> tuple[Any, ...]:
    """Who reads: the account's id and when it was made.

    A change of role moves the data stamp. An id alone is not enough: SQLite hands the id of the last
    account deleted to the next one made, which may not be answered what the deleted account was.
    """
    if not user.is_authenticated:
        return ("anonymous",)
    return (user.pk, user.date_joined.isoformat())


class KeptAnswer(Exception):  # noqa: N818 - how a read ends early, not an error
    """The answer to this very request, for this data stamp, day and user, is in the cache."""

    def __init__(self, content: bytes, content_type: str) -> None:
        super().__init__(content_type)
        self.content = content
        self.content_type = content_type


class NotModified(Exception):  # noqa: N818 - how a read ends early, not an error
    """The client's copy is current (or, for If-Match on a read, stale): answer without building a body."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


class StrictOrderingFilter(filters.OrderingFilter):
    """``ordering``: a comma-separated list of the view's ordering fields, ``-`` for descending; others are a 400."""

    def get_ordering(self, request: Request, queryset: QuerySet[Any], view: Any) -> Any:
        """Refuse unknown fields instead of silently ignoring them."""
        raw = request.query_params.get(self.ordering_param)
        if raw is not None:
            allowed = {name for name, _ in self.get_valid_fields(queryset, view, {"request": request})}
            wanted = [term.strip() for term in raw.split(",")]
            unknown = [term for term in wanted if term.lstrip("-") not in allowed]
            if unknown or not raw.strip():
                raise exceptions.ValidationError(
                    {
                        self.ordering_param: [
                            f"Order by one or more of: {', '.join(sorted(allowed))} (- for descending)."
                        ]
                    }
                )
        return super().get_ordering(request, queryset, view)

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        """``ordering`` as a comma-separated list of the fields the view orders by."""
        fields = list(getattr(view, "ordering_fields", None) or [])
        if not fields:
            return []
        return [
            {
                "name": self.ordering_param,
                "required": False,
                "in": "query",
                "description": "Order by these fields, comma-separated; `-` before a field for descending.",
                "style": "form",
                "explode": False,
                "schema": {
                    "type": "array",
                    "minItems": 1,
                    "items": {"type": "string", "enum": [*fields, *(f"-{name}" for name in fields)]},
                },
            }
        ]


class ApiViewSet(viewsets.GenericViewSet):
    """Behaviour every endpoint shares.

    - Query strings are strict: a parameter the endpoint does not take, a repeated one, an empty one
      (filters sent empty are ignored, as django-filter does, and ``cursor=`` starts a walk), or a bad
      value is a 400 naming it. The schema says exactly this (``lsis.api.schema``).
    - Throttle scope: ``read``, ``export`` (CSV/XLSX) or ``write``, counted per token.
    - GET answers carry an ETag and Last-Modified from the data stamp (``ReadValidators``; the version
      for versioned records) and honour If-None-Match and If-Modified-Since with a 304 before any of
      the answer is built. A JSON answer is kept in the cache under the same inputs as its ETag, so
      the same request is answered from it until the data changes. Errors are always JSON.
    - List endpoints export all matching rows as CSV or XLSX with ``?format=``; paging parameters are
      checked but ignored there.
    """

    lookup_value_regex = "[^/]+"
    filter_backends = [StrictFilterBackend, StrictOrderingFilter]
    renderer_classes = [JSONRenderer]
    list_renderer_classes = [JSONRenderer, CSVRenderer, XLSXRenderer]
    throttle_scope = "read"
    export_name = "export"
    search_fields: tuple[str, ...] = ()
    # Actions whose ETag is the record's version, which If-Match names to change it.
    versioned_actions: tuple[str, ...] = ()
    read_validators: ReadValidators | None = None

    def filter_queryset(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        """Filter and order as the query string asks; with nothing asked, skip building the filter forms."""
        asked = set(self.request.query_params) - {"format", "cursor", *PAGING_PARAMS}
        if not asked:
            return queryset
        return super().filter_queryset(queryset)

    @classmethod
    def as_view(cls, actions: Any = None, **initkwargs: Any) -> Any:
        """The view, opted out of the request-wide transaction: ``dispatch`` opens one for writes only."""
        return writes_in_one_transaction(transaction.non_atomic_requests(super().as_view(actions, **initkwargs)))

    def dispatch(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        """Writes run in one transaction, as every other request does (ATOMIC_REQUESTS); reads need none.

        A read's queries each see committed data, and its validators come from the data stamp, which
        moves only after a change has committed; a transaction around them would only add round trips.
        """
        if request.method in SAFE_METHODS:
            return super().dispatch(request, *args, **kwargs)
        with transaction.atomic():
            return super().dispatch(request, *args, **kwargs)

    def get_renderers(self) -> list[Any]:
        """Lists may also be exported; everything else is JSON."""
        if self.action == "list":
            return [renderer() for renderer in self.list_renderer_classes]
        return super().get_renderers()

    def allowed_query_params(self) -> set[str]:
        """The query parameters this endpoint takes."""
        allowed = {"format"}
        if self.action == "list":
            filterset_class = getattr(self, "filterset_class", None)
            if filterset_class is not None:
                allowed |= set(filterset_class.base_filters)
            if getattr(self, "ordering_fields", None):
                allowed.add("ordering")
            if self.search_fields:
                allowed.add("search")
            if self.pagination_class is not None:
                allowed |= set(PAGING_PARAMS)
                if issubclass(self.pagination_class, BrowseOrWalkPagination):
                    allowed.add("cursor")
        return allowed

    def filter_params(self) -> set[str]:
        """The query parameters that are filters (of the list's filter set): an empty one is ignored."""
        filterset_class = getattr(self, "filterset_class", None)
        if self.action != "list" or filterset_class is None:
            return set()
        return set(filterset_class.base_filters)

    def _check_query_params(self, request: Request) -> None:
        allowed = self.allowed_query_params()
        # django-filter's convention: a filter sent empty (``?area=``) is as if left out; the schema says
        # so with ``allowEmptyValue`` (``lsis.api.schema``). ``cursor=`` starts a walk. Any other
        # parameter sent empty is a mistake the schema does not allow (a number, a format, an ordering).
        may_be_empty = {*self.filter_params(), "cursor"}
        errors: dict[str, list[str]] = {}
        for name in request.query_params:
            if name not in allowed:
                errors[name] = [f"Unknown parameter. This endpoint takes: {', '.join(sorted(allowed))}."]
            elif len(request.query_params.getlist(name)) > 1:
                errors[name] = ["Give this parameter once."]
            elif request.query_params[name] == "" and name not in may_be_empty:
                errors[name] = ["Give a value, or leave the parameter out."]
        if errors:
            raise exceptions.ValidationError(errors)
        if request.query_params.get("format", "json") in EXPORT_FORMATS and self.pagination_class is not None:
            # An export holds every matching row: paging parameters are checked as on a page (the schema
            # cannot make them depend on ``format``) but choose nothing.
            check_paging_params(request)

    def _method_allowed(self, request: Request) -> bool:
        method = request.method.lower() if request.method else ""
        return method in self.http_method_names and hasattr(self, method)

    def perform_content_negotiation(self, request: Request, force: bool = False) -> Any:
        """An unknown ``format`` is a 400 saying which formats there are."""
        if not self._method_allowed(request):
            # The answer is a 405 in JSON, whatever format was asked for.
            return super().perform_content_negotiation(request, force=True)
        wanted = request.query_params.get("format")
        if not force and wanted is not None:
            formats = [renderer.format for renderer in self.get_renderers()]
            if wanted not in formats:
                raise exceptions.ValidationError({"format": [f"Choose one of: {', '.join(formats)}."]})
        return super().perform_content_negotiation(request, force)

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        """Pick the throttle scope, authenticate, check permissions and throttles, then the query string."""
        if request.method not in SAFE_METHODS:
            self.throttle_scope = "write"
        elif request.query_params.get("format") in EXPORT_FORMATS:
            self.throttle_scope = "export"
        super().initial(request, *args, **kwargs)
        if not self._method_allowed(request):
            # Nothing here answers this method: a 405 (from ``dispatch``), whatever the query string says.
            return
        self._check_query_params(request)
        if request.method in ("GET", "HEAD") and self.action not in self.versioned_actions:
            self._answer_early(request)

    def _answer_early(self, request: Request) -> None:
        """End a read with a 304 (or 412), or with the answer kept for it, before building anything."""
        validators = ReadValidators(request)
        if not validators.usable:
            return
        self.read_validators = validators
        answer = get_conditional_response(
            request._request, etag=validators.etag, last_modified=self._trusted_last_modified(request)
        )
        if answer is not None:
            raise NotModified(answer.status_code)
        kept = cache.get(self._answer_key()) if settings.API_ANSWER_CACHE_SECONDS else None
        if kept is not None:
            raise KeptAnswer(*kept)

    def _trusted_last_modified(self, request: Request) -> int | None:
        """Last-Modified to compare If-Modified-Since with; none when the client sent a date from nowhere.

        A date later than both now and the current Last-Modified cannot have come from this server (its
        Last-Modified runs ahead of the clock only during a burst of changes, a second a change);
        honouring it would answer 304 to a client whose clock runs ahead, whatever has changed since.
        """
        assert self.read_validators is not None  # noqa: S101 - only called once they are known
        last_modified = self.read_validators.last_modified
        claimed = parse_http_date_safe(request.headers.get("If-Modified-Since", ""))
        if claimed is not None and claimed > max(time_now(), last_modified):
            return None
        return last_modified

    def _answer_key(self) -> str:
        assert self.read_validators is not None  # noqa: S101 - only called once they are known
        parts = ("answer", self.request.build_absolute_uri(), self.request.accepted_media_type)
        return f"api:answer:{self.read_validators.digest(*parts)}"

    def _keep_answer(self, response: Response) -> None:
        """Keep a JSON answer in the cache under its validators, so the same request is answered from it."""
        if not settings.API_ANSWER_CACHE_SECONDS or self.request.accepted_renderer.format != "json":
            return
        response.render()
        if len(response.content) <= settings.API_ANSWER_CACHE_MAX_BYTES:
            kept = (response.content, response["Content-Type"])
            cache.set(self._answer_key(), kept, timeout=settings.API_ANSWER_CACHE_SECONDS)

    def handle_exception(self, exc: Exception) -> Any:
        """A current copy gets its 304 (or a failed If-Match its 412) with no body; the rest as DRF does."""
        if isinstance(exc, KeptAnswer):
            return HttpResponse(exc.content, content_type=exc.content_type)
        if isinstance(exc, NotModified):
            if exc.status == 412:
                return super().handle_exception(PreconditionFailed("The data has changed since that version."))
            return HttpResponseNotModified()
        return super().handle_exception(exc)

    # --- lists and exports -------------------------------------------------------------------------

    def list_records(self, request: Request) -> HttpResponseBase:
        """A page of the filtered rows, or all of them as CSV or XLSX."""
        queryset = self.filter_queryset(self.get_queryset())
        export_format = request.accepted_renderer.format
        if export_format in EXPORT_FORMATS:
            serializer = self.get_serializer_class()(context=self.get_serializer_context())
            return export_response(export_format, serializer, self.represent_all(queryset), self.export_name)
        page = self.paginate_queryset(self.listing(queryset))
        return self.get_paginated_response(self.represent(page or []))

    def remember(self, name: str, compute: Callable[[], T], *parts: Any) -> T:
        """``compute()``, kept in the cache for this user until the data stamp moves (or the day ends).

        ``name`` says what is kept (a word); ``parts``, what else it depends on.
        """
        if self.read_validators is None:
            return compute()
        key = f"api:{name}:{self.read_validators.digest(name, *parts)}"
        value = cache.get(key)
        if value is None:
            value = compute()
            cache.set(key, value, timeout=DERIVED_CACHE_SECONDS)
        return cast(T, value)

    def count_rows(self, queryset: QuerySet[Any]) -> int:
        """How many rows match, for the page envelope; kept in the cache until the data stamp moves.

        Counting is the one part of a page whose cost grows with the table, and a partner paging through
        a list asks the same count for every page.
        """
        if self.read_validators is None:
            return queryset.count()
        asked = sorted((name, value) for name, value in self.request.query_params.items() if name not in PAGE_PARAMS)
        return self.remember("count", queryset.count, self.request.path, asked)

    def listing(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        """What a page is cut from: the filtered queryset itself, unless the view represents rows its own way."""
        return queryset

    def represent(self, page: list[Any]) -> Any:
        """The records of a page: the serializer's, unless the view builds them its own way."""
        return self.get_serializer(page, many=True).data

    def represent_all(self, queryset: QuerySet[Any]) -> Iterator[Any]:
        """Every record of the filtered queryset, read a chunk at a time (exports)."""
        serializer_class = self.get_serializer_class()
        context = self.get_serializer_context()
        for item in queryset.iterator(chunk_size=CHUNK_SIZE):
            yield serializer_class(item, context=context).data

    def retrieve_record(self, request: Request) -> Response:
        """One record, with its ETag."""
        instance = self.get_object()
        return Response(self.get_serializer(instance).data, headers=self.etag_headers(instance))

    # --- versions and conditional requests -----------------------------------------------------------

    def etag_headers(self, instance: Any) -> dict[str, str]:
        """An ETag for the record, if the view has a cheaper one than the hash of the body (the default)."""
        return {}

    def expect_version(self, request: Request, instance: Any) -> None:
        """Check If-Match against the record's version (428 without it, 412 when stale).

        The instance is then saved on the condition that the row still has that version, so a change
        that lands between this check and the save is refused too.
        """
        header = request.headers.get("If-Match")
        if not header:
            raise PreconditionRequired()
        # Exactly what the schema's pattern says: one ETag of a version, as reads give it.
        match = _IF_MATCH_RE.fullmatch(header.strip())
        version = whole_number(match["version"]) if match else None
        if version is None:
            raise exceptions.ValidationError(
                {"If-Match": ['Give the ETag of the version you read, e.g. "3" (one value, not *).']}
            )
        if version != instance.version:
            raise PreconditionFailed(
                f"The record is at version {instance.version}; you sent {version}. "
                "Read it again, check the changes, then retry."
            )
        instance.version = version

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        """Errors in JSON whatever format was asked for; validators, and 304 when current, on reads."""
        response = super().finalize_response(request, response, *args, **kwargs)
        if isinstance(response, Response) and response.status_code >= 400:
            response.accepted_renderer = JSONRenderer()
            response.accepted_media_type = JSONRenderer.media_type
            return response
        if request.method not in ("GET", "HEAD") or response.status_code not in (200, 304):
            return response
        response["Cache-Control"] = "private, no-cache"
        response["Vary"] = "Accept, Authorization, Cookie"
        if self.read_validators is not None:
            for name, value in self.read_validators.headers().items():
                response[name] = value
            if isinstance(response, Response) and response.status_code == 200:
                self._keep_answer(response)
            return response
        if isinstance(response, Response) and response.status_code == 200:
            # No data stamp yet, or a versioned record: the version, else a digest of the body.
            if not response.has_header("ETag"):
                response.render()
                response["ETag"] = quote_etag(hashlib.md5(response.content, usedforsecurity=False).hexdigest())
            return get_conditional_response(request, etag=response["ETag"], response=response)
        return response

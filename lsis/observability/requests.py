"""One log line per request, under a request id that the response returns and the tasks it enqueues carry.

The middleware is django-structlog's, adapted: it binds only the request id while the request runs (every
line logged meanwhile carries it), and logs when the response is ready a single ``request_finished`` line
with the user's id, the method, the route, the path, the status and the duration. It never reads the
database: the user's id is logged only if something in the request already looked the user up (signed-in
pages and the API do), so it adds no query. No query string, header, cookie, body or address is logged.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import Any, cast

import structlog
from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.core.signals import request_finished
from django.http import HttpRequest, HttpResponseBase
from django.utils.functional import LazyObject, empty
from django_structlog.middlewares.request import RequestMiddleware

REQUEST_ID_HEADER = "X-Request-ID"
# An id a client or proxy sends is kept only if it looks like one: 8 to 128 letters, digits, "-", "_", ".", ":".
# Anything else (a long string, spaces, quotes, control characters) is replaced by a new one.
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{7,127}")
# A regular-expression route (the API's router writes them) read as a path route: (?P<pk>[^/.]+) as <pk>.
_NAMED_GROUP = re.compile(r"\(\?P<(\w+)>[^)]*\)")

logger = structlog.get_logger("lsis.requests")

_current_request: ContextVar[HttpRequest | None] = ContextVar("lsis_current_request", default=None)


def request_id_from(value: str | None) -> str:
    """The request id for an incoming ``X-Request-ID`` value: the value if it is sane, else a new UUID."""
    if value and _SANE_REQUEST_ID.fullmatch(value):
        return value
    return str(uuid.uuid4())


def current_request() -> HttpRequest | None:
    """The request this thread or task is answering, if any (for error reports)."""
    return _current_request.get()


def resolved_user_id(request: HttpRequest, *, look_up: bool = False) -> Any:
    """The primary key of the request's signed-in user, None for an anonymous one.

    ``request.user`` is looked up lazily: unless ``look_up``, a user not looked up yet gives None rather than
    a query on a request that never needed one. An error report looks the user up (errors are rare).
    """
    user: Any = request.__dict__.get("user")
    if isinstance(user, LazyObject) and cast(Any, user)._wrapped is empty and not look_up:
        return None  # not looked up yet (``_wrapped`` is the one way to know)
    try:
        authenticated = user is not None and user.is_authenticated
    except Exception:  # a report must not fail for want of the user's id (the database may be down)
        return None
    return user.pk if authenticated else None


def route_of(request: HttpRequest) -> str | None:
    """The URL pattern the request matched (``api/v1/commitments/<pk>/``), None if none did."""
    match = getattr(request, "resolver_match", None)
    if match is None:
        return None
    route = _NAMED_GROUP.sub(r"<\1>", match.route)
    return route.replace("^", "").replace("$", "").replace("\\", "")


def _end_context(**kwargs: Any) -> None:
    """End the request's log context (on Django's ``request_finished``, when the response is closed)."""
    structlog.contextvars.clear_contextvars()
    _current_request.set(None)


class RequestLogMiddleware(RequestMiddleware):
    """Logs each request as one ``request_finished`` line and answers its id in ``X-Request-ID``.

    Near the top of ``MIDDLEWARE`` (only the health probes come before it), so that every response, even
    one refused before authentication, has an id and a line; the user's id is read when the response is
    ready, once authentication has run.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase | Awaitable[HttpResponseBase]]) -> None:
        # django-structlog's own constructor also logs a failed request as a line of its own: here a request
        # is one line whatever its outcome (Django's own logger and Sentry have the traceback).
        self.get_response = get_response  # type: ignore[assignment]
        if iscoroutinefunction(self.get_response):
            markcoroutinefunction(self)
        # The context ends when the response is closed, so that Django's own line about an error response
        # ("Not Found: ...", logged after the middleware has returned) still carries the request id.
        request_finished.connect(_end_context, dispatch_uid="lsis-request-log-end")

    def prepare(self, request: HttpRequest) -> None:
        """Start the request's log context: its id (from ``X-Request-ID`` if sane) and the clock."""
        structlog.contextvars.clear_contextvars()
        request_id = request_id_from(request.headers.get(REQUEST_ID_HEADER))
        structlog.contextvars.bind_contextvars(request_id=request_id)
        _current_request.set(request)
        request._lsis_log = (request_id, time.monotonic_ns())  # type: ignore[attr-defined]

    def handle_response(self, request: HttpRequest, response: HttpResponseBase) -> None:
        """Log the request's line and put its id in the response."""
        request_id, started = request._lsis_log  # type: ignore[attr-defined]
        try:
            logger.info(
                "request_finished",
                user_id=resolved_user_id(request),
                method=request.method,
                route=route_of(request),
                path=request.path,
                status=response.status_code,
                duration_ms=round((time.monotonic_ns() - started) / 1_000_000, 1),
            )
        finally:
            response[REQUEST_ID_HEADER] = request_id

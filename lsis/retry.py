"""A request whose database connection is lost before anything committed is answered again, not with a 500.

PostgreSQL restarting (a failover, an upgrade, a crash) ends every session: requests in flight fail on their
next query, and requests arriving while it starts again cannot connect. ``CONN_HEALTH_CHECKS`` makes a
process drop a dead connection before its next request, but the requests that were in flight still fail.
This middleware runs such a request again, with a new connection, after a short pause that doubles each
time, for at most ``DATABASE_RETRY_SECONDS``.

Running a request again is safe only when its first run committed nothing. It is run again when the
connection was lost:

- before the view ran (a middleware reading the session or the user); or
- in the view, when the view runs in one transaction (``ATOMIC_REQUESTS``, or a view marked with
  ``writes_in_one_transaction``, as the API's are), which the lost connection rolled back; or in a view
  answering ``GET`` or ``HEAD``, which writes nothing.

Never after the view returned (a session saved on the way out): its transaction may have committed. A
connection lost during the ``COMMIT`` itself is the one case left ambiguous: the server may have committed
without saying so, and the request then runs again. Status updates are drafts a reviewer approves, and an
approval given twice is refused the second time (the update is no longer submitted), so the ambiguity costs
at most a duplicate draft.
"""

from __future__ import annotations

import io
import logging
import sys
import time
from collections.abc import Callable
from typing import Any

import psycopg2
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.core.signals import got_request_exception
from django.db import InterfaceError, OperationalError, connections
from django.http import HttpRequest, HttpResponse

logger = logging.getLogger(__name__)

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
#: The first pause before running a request again, in seconds; each further pause is twice the last.
FIRST_PAUSE_SECONDS = 0.1
#: SQLSTATE classes of a lost connection: connection exceptions (08) and the server shutting down (57P01 admin
#: shutdown, 57P02 crash shutdown, 57P03 cannot connect now). psycopg2 gives a connection it lost with no code.
_LOST_CODES = ("08", "57P01", "57P02", "57P03")

_STARTED = "_lsis_retry_view_started"
_ELIGIBLE_VIEW = "_lsis_retry_view_eligible"
_RETRY = "_lsis_retry_requested"


def writes_in_one_transaction(view: Callable[..., Any]) -> Callable[..., Any]:
    """Mark a view that is not request-atomic but makes each of its writes in one transaction of its own.

    A lost connection rolls such a write back, so the request may be run again.
    """
    view._lsis_writes_in_one_transaction = True  # type: ignore[attr-defined]
    return view


def is_lost_connection(error: BaseException | None) -> bool:
    """Whether ``error`` is PostgreSQL's connection being lost or refused (not a query's own failure)."""
    if not isinstance(error, OperationalError | InterfaceError):
        return False
    cause = error.__cause__
    if not isinstance(cause, psycopg2.Error):
        return False
    code = cause.pgcode
    return code is None or code.startswith(_LOST_CODES)


def _view_is_eligible(request: HttpRequest, view: Callable[..., Any]) -> bool:
    if request.method in SAFE_METHODS:
        return True
    if getattr(view, "_lsis_writes_in_one_transaction", False):
        return True
    atomic = settings.DATABASES["default"].get("ATOMIC_REQUESTS", False)
    return bool(atomic) and "default" not in getattr(view, "_non_atomic_requests", set())


def _note_exception(sender: Any, request: HttpRequest | None = None, **kwargs: Any) -> None:
    """Mark the request for another run if its connection was lost before anything could have committed."""
    if request is None or not is_lost_connection(sys.exc_info()[1]):
        return
    started = getattr(request, _STARTED, False)
    if not started or getattr(request, _ELIGIBLE_VIEW, False):
        setattr(request, _RETRY, True)


got_request_exception.connect(_note_exception, dispatch_uid="lsis.retry.note_exception")


class RetryLostConnectionMiddleware:
    """Run a request again, on a new connection, when PostgreSQL was lost before it could commit anything.

    Placed before the session and authentication middleware, so that they run again too.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        """Answer the request, running it again while its connection is lost, within the time allowed."""
        budget = float(getattr(settings, "DATABASE_RETRY_SECONDS", 0))
        replayable = budget > 0 and _keep_body(request)
        deadline = time.monotonic() + budget
        pause = FIRST_PAUSE_SECONDS
        attempt = 1
        while True:
            response = self.get_response(request)
            if not getattr(request, _RETRY, False) or not replayable:
                return response
            if time.monotonic() + pause > deadline:
                logger.error("Database connection lost; gave up after %d attempts", attempt)
                return response
            logger.warning("Database connection lost; running the request again (attempt %d)", attempt + 1)
            time.sleep(pause)
            pause *= 2
            attempt += 1
            _reset(request)

    def process_view(self, request: HttpRequest, view: Callable[..., Any], args: Any, kwargs: Any) -> None:
        """Note that the view is about to run, and whether a lost connection in it may be run again."""
        setattr(request, _STARTED, True)
        setattr(request, _ELIGIBLE_VIEW, _view_is_eligible(request, view))


def _keep_body(request: HttpRequest) -> bool:
    """Read the body now, so that another run reads it again; False when it cannot be kept (too big, a stream)."""
    if request.method in SAFE_METHODS:
        return True
    if request.content_type == "multipart/form-data":
        return False  # uploads are streamed to files, not kept in memory
    try:
        request.body  # noqa: B018 - reading it keeps it on the request
    except RequestDataTooBig:
        return False
    return True


def _reset(request: HttpRequest) -> None:
    """Forget what the failed run left on the request, and every connection it had."""
    for name in (_STARTED, _ELIGIBLE_VIEW, _RETRY):
        if hasattr(request, name):
            delattr(request, name)
    body = getattr(request, "_body", None)
    if body is not None:
        request._stream = io.BytesIO(body)
    for name in ("_post", "_files", "user", "_cached_user", "session"):
        request.__dict__.pop(name, None)
    for connection in connections.all(initialized_only=True):
        if not connection.in_atomic_block:
            connection.close()

"""Answers to errors no view answered itself: the API's JSON error body under /api/, GOV.UK pages elsewhere.

Django calls the handlers for an exception that leaves a view or a middleware (``handler400`` and the
others in ``lsis/urls.py``); DRF answers the API's own exceptions before that, in the same body
(``lsis.api.errors``). So every answer under ``/api/`` is JSON, a 500 from a fault in the code included,
and every page elsewhere is one of the service's own (templates/400.html, 403.html, 404.html, 500.html).
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views import defaults

from lsis.api.errors import error_body

API_PREFIX = "/api/"


def is_api(request: HttpRequest) -> bool:
    """Whether the request is for the API (or its schema and docs), whose errors are JSON."""
    return request.path_info.startswith(API_PREFIX)


def _json(status: int, code: str, detail: str, fields: dict[str, list[str]] | None = None) -> JsonResponse:
    return JsonResponse(error_body(status, code, detail, fields), status=status)


def bad_input(request: HttpRequest, errors: dict[str, list[str]]) -> HttpResponse:
    """A 400 naming each field or parameter that is not valid, with its messages."""
    if is_api(request):
        return _json(400, "invalid", "Some of the values sent are not valid.", errors)
    return render(request, "400.html", {"errors": errors}, status=400)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """handler400: a request Django could not read (a malformed upload, too many fields, a bad host)."""
    if is_api(request):
        return _json(400, "bad_request", "The request could not be read.")
    return defaults.bad_request(request, exception)


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    """handler403."""
    if is_api(request):
        return _json(403, "permission_denied", "You do not have permission to perform this action.")
    return defaults.permission_denied(request, exception)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """handler404: an address no view answers."""
    if is_api(request):
        return _json(404, "not_found", "There is no such endpoint; see /api/docs/ for the ones there are.")
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500: a fault in the code, already logged with its traceback by Django; nothing of it is shown."""
    if is_api(request):
        return _json(500, "server_error", "Something went wrong on our side and has been logged; try again later.")
    return defaults.server_error(request)

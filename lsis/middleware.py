"""Middleware of the whole site."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, QueryDict

from lsis.handlers import bad_input, is_api

NUL = "\x00"
NUL_MESSAGE = "Remove the NUL character (\\u0000): no text the service takes may contain it."
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def _nul_errors(request: HttpRequest) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if NUL in request.path_info:
        errors["path" if is_api(request) else "Address"] = [NUL_MESSAGE]
    sources: list[QueryDict] = [request.GET]
    if request.method == "POST" and request.content_type in FORM_TYPES:
        sources.append(request.POST)
    for data in sources:
        for name, values in data.lists():
            if NUL in name or any(NUL in value for value in values):
                errors[name.replace(NUL, "") or "parameter"] = [NUL_MESSAGE]
    return errors


class RefuseNulMiddleware:
    """A 400 for any request whose path, query string or form fields hold a NUL character, before any view runs.

    PostgreSQL cannot store or compare text holding NUL: a query with such a value raises instead of
    matching nothing, so every lookup by a path segment, filter or form field would need its own check.
    This is the one check, for every view there is and will be. JSON bodies are checked by the API's
    parser (``lsis.api.parsers``). The answer is the API's JSON error under /api/, the GOV.UK 400 page
    elsewhere.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        """Refuse the request if it holds NUL; otherwise pass it on."""
        errors = _nul_errors(request)
        if errors:
            return bad_input(request, errors)
        return self.get_response(request)

"""One JSON error body for every failure of the API, and the exceptions the API raises itself.

Every error response is ``{"status": 400, "code": "invalid", "detail": "...", "fields": {...}}``:
``fields`` maps a field or query parameter to its messages (empty when the error is not about one).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.http import Http404
from rest_framework import exceptions, serializers, status
from rest_framework.permissions import SAFE_METHODS
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from lsis.core.errors import StateConflictError
from lsis.models import ConcurrentEditError


class ErrorSerializer(serializers.Serializer):
    """The body of every error response."""

    status = serializers.IntegerField(help_text="The HTTP status code, repeated.")
    code = serializers.CharField(help_text="A stable machine-readable code, e.g. `invalid`, `not_found`.")
    detail = serializers.CharField(help_text="What went wrong, in words.")
    fields = serializers.DictField(  # type: ignore[assignment]
        child=serializers.ListField(child=serializers.CharField()),
        help_text="Messages per field or query parameter; empty when the error is not about one.",
    )


class PreconditionRequired(exceptions.APIException):
    """A write did not say which version of the record it was based on."""

    status_code = 428
    default_detail = (
        'Send an If-Match header with the ETag of the version you read, e.g. If-Match: "3"; '
        "this stops you overwriting someone else's change."
    )
    default_code = "precondition_required"


class PreconditionFailed(exceptions.APIException):
    """The version the write was based on is no longer the current one."""

    status_code = status.HTTP_412_PRECONDITION_FAILED
    default_detail = "The record has changed since you read it. Read it again, check the changes, then retry."
    default_code = "precondition_failed"


class Conflict(exceptions.APIException):
    """The action is not allowed in the record's current state."""

    status_code = status.HTTP_409_CONFLICT
    default_detail = "The action is not allowed in the record's current state."
    default_code = "conflict"


class RuleRefusal(exceptions.APIException):
    """Values the schema allows, refused by a rule of the records (a service's or model's validation): 422.

    The request is well formed (a 400 is for what the schema itself forbids), but a rule no schema can
    state refuses its values: an update dated in the future, money spent on a commitment with none.
    """

    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_detail = "The values are of the right form, but a rule of the records refuses them; `fields` says why."
    default_code = "unprocessable"


class UnknownReference(exceptions.NotFound):
    """A filter or field is well formed but names no record there is (for this user): ``fields`` says which.

    The schema cannot list which codes, references or UUIDs exist, so naming one that does not is "not
    found", as the record's own URL would be, rather than a malformed request (400).
    """

    default_detail = "A value names something that does not exist, or that you cannot see."


_SUMMARY = {
    400: "Some of the values sent are not valid.",
}


def _messages(value: Any) -> list[str]:
    if isinstance(value, list | tuple):
        return [message for item in value for message in _messages(item)]
    if isinstance(value, dict):
        return [f"{key}: {message}" for key, item in value.items() for message in _messages(item)]
    return [str(value)]


def _fields_and_detail(detail: Any) -> tuple[dict[str, list[str]], str | None]:
    if isinstance(detail, dict):
        fields = {str(name): _messages(value) for name, value in detail.items() if name != "non_field_errors"}
        general = _messages(detail["non_field_errors"]) if "non_field_errors" in detail else []
        return fields, " ".join(general) or None
    return {}, " ".join(_messages(detail))


def _code(exc: exceptions.APIException) -> str:
    codes = exc.get_codes()
    if isinstance(codes, str):
        return codes
    return str(exc.default_code)


def _translate(exc: Exception) -> Exception:
    """Turn the errors the services and models raise into the API's exceptions."""
    if isinstance(exc, StateConflictError):
        return Conflict(" ".join(exc.messages))
    if isinstance(exc, ConcurrentEditError):
        return PreconditionFailed(exc.describe())
    if isinstance(exc, DjangoValidationError):
        # The serializers have taken the values (they are what the schema allows); a service or model
        # refusing them applies a rule of the records (a date not in the future, money only where the
        # commitment carries money): well formed but unprocessable (422), not a malformed request.
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        return RuleRefusal(detail)
    if isinstance(exc, DjangoPermissionDenied):
        return exceptions.PermissionDenied(str(exc) or None)
    if isinstance(exc, Http404):
        return exceptions.NotFound()
    return exc


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler (headers such as Retry-After and WWW-Authenticate), with the API's one error body."""
    exc = _translate(exc)
    request = context.get("request")
    # DRF marks the enclosing transaction for rollback. Writes run in one of their own, which must roll
    # back; reads run in none, so any transaction around them belongs to their caller and is left alone.
    read = request is not None and request.method in SAFE_METHODS and transaction.get_connection().in_atomic_block
    caller_rollback = transaction.get_rollback() if read else None
    response = drf_exception_handler(exc, context)
    if caller_rollback is not None:
        transaction.set_rollback(caller_rollback)
    if response is None or not isinstance(exc, exceptions.APIException):
        return response
    fields, detail = _fields_and_detail(exc.detail)
    response.data = {
        "status": response.status_code,
        "code": "invalid" if isinstance(exc, exceptions.ValidationError) else _code(exc),
        "detail": detail or _SUMMARY.get(response.status_code, str(exc.default_detail)),
        "fields": fields,
    }
    return response


def error_body(status_code: int, code: str, detail: str, fields: dict[str, list[str]] | None = None) -> dict[str, Any]:
    """An error body for responses built outside DRF's exception handling."""
    return {"status": status_code, "code": code, "detail": detail, "fields": fields or {}}

"""Shared pieces of the OpenAPI description: the error responses every operation documents."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse
from rest_framework import serializers

from lsis.api.errors import ErrorSerializer


def _error(description: str, status: int, code: str, detail: str, fields: dict[str, Any] | None = None) -> Any:
    return OpenApiResponse(
        response=ErrorSerializer,
        description=description,
        examples=[
            OpenApiExample(
                code,
                value={"status": status, "code": code, "detail": detail, "fields": fields or {}},
                response_only=True,
                status_codes=[str(status)],
            )
        ],
    )


BAD_REQUEST = _error(
    "A parameter or field is not valid; `fields` says which and why.",
    400,
    "invalid",
    "Some of the values sent are not valid.",
    {"status": ["“finished” is not one of the values this filter takes."]},
)
UNAUTHORISED = _error(
    "No valid credentials: send `Authorization: Token <token>`.",
    401,
    "not_authenticated",
    "Authentication credentials were not provided.",
)
FORBIDDEN = _error("Your role may not do this.", 403, "permission_denied", "You do not have permission.")
NOT_FOUND = _error("No such record, or not one you can see.", 404, "not_found", "No record found.")
METHOD_NOT_ALLOWED = _error("This method is not allowed here.", 405, "method_not_allowed", 'Method "PUT" not allowed.')
THROTTLED = _error(
    "Too many requests: wait the number of seconds in Retry-After.",
    429,
    "throttled",
    "Request was throttled. Expected available in 12 seconds.",
)
CONFLICT = _error(
    "The action is not allowed in the record's current state (e.g. approving a draft, a second update of "
    "the same commitment and day).",
    409,
    "conflict",
    "Only a submitted update can be approved; this one is draft.",
)
UNPROCESSABLE = _error(
    "Values of the right form that a rule of the records refuses (e.g. an update dated in the future); "
    "`fields` says which and why.",
    422,
    "unprocessable",
    "The values are of the right form, but a rule of the records refuses them; `fields` says why.",
    {"as_of": ["The as-of date cannot be in the future."]},
)
PRECONDITION_FAILED = _error(
    "The record changed since you read it (If-Match does not match its ETag).",
    412,
    "precondition_failed",
    "The record is at version 4; you sent 3. Read it again, check the changes, then retry.",
)
PRECONDITION_REQUIRED = _error(
    "A write must send If-Match with the ETag it read.",
    428,
    "precondition_required",
    'Send an If-Match header with the ETag of the version you read, e.g. If-Match: "3".',
)

READ_ERRORS = {400: BAD_REQUEST, 401: UNAUTHORISED, 403: FORBIDDEN, 404: NOT_FOUND, 429: THROTTLED}
WRITE_ERRORS = {
    **READ_ERRORS,
    409: CONFLICT,
    412: PRECONDITION_FAILED,
    422: UNPROCESSABLE,
    428: PRECONDITION_REQUIRED,
}

# One ETag of a version, as the reads give it: ``"3"`` (``W/"3"`` is taken too). ``*`` or a list is a 400.
IF_MATCH_PATTERN = r'^(W/)?"[0-9]{1,18}"$'
IF_MATCH = OpenApiParameter(
    "If-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=True,
    pattern=IF_MATCH_PATTERN,
    description='The ETag of the version you read, e.g. "3". Missing: 428; stale: 412.',
)


def decimal_pattern(field: serializers.DecimalField) -> str:
    """The decimals written as strings that ``field`` takes: a sign only if it takes negatives, a digit at least.

    drf-spectacular's pattern allows a minus sign whatever the minimum, and "" or "." which no field takes
    as a number ("" is null where the field allows null).
    """
    sign = "" if field.min_value is not None and field.min_value >= 0 else "-?"
    whole, places = field.max_whole_digits, field.decimal_places
    number = rf"[0-9]{{1,{whole}}}" if whole else "0?"
    if places:
        number = rf"(?:{number}(?:\.[0-9]{{0,{places}}})?|\.[0-9]{{1,{places}}})"
    empty = "|" if field.allow_null else ""
    return rf"^(?:{sign}{number}{empty})$"


class TokenAuthenticationScheme(OpenApiAuthenticationExtension):
    """Describes the API's token authentication in the schema."""

    target_class = "lsis.api.auth.ThrottledTokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        """``Authorization: Token <token>``."""
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "Token-based authentication with required prefix `Token`, e.g. `Token lsis_4f2...`.",
        }


class ApiAutoSchema(AutoSchema):
    """Documents the error responses every operation can give, in the one error format.

    And the query string as ``ApiViewSet`` takes it: a filter may be sent empty (then it is ignored).
    """

    def _map_serializer_field(self, field: Any, direction: Any, bypass_extensions: bool = False) -> Any:
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        if isinstance(field, serializers.DecimalField) and "pattern" in schema:
            schema["pattern"] = decimal_pattern(field)
        trimmed = isinstance(field, serializers.CharField) and field.trim_whitespace and not field.allow_blank
        if direction == "request" and trimmed and "pattern" not in schema and schema.get("type") == "string":
            # DRF strips the text before checking it is not blank: white space alone is blank.
            schema["pattern"] = r"\S"
        return schema

    def _get_filter_parameters(self) -> list[dict[str, Any]]:
        parameters = super()._get_filter_parameters()
        filter_params = getattr(self.view, "filter_params", None)
        empty_ignored = filter_params() if filter_params is not None else set()
        for parameter in parameters:
            if parameter.get("in") == "query" and parameter["name"] in empty_ignored:
                parameter["allowEmptyValue"] = True
        return parameters

    def _get_response_bodies(self, direction: Any = "response") -> dict[str, Any]:
        responses = super()._get_response_bodies(direction)
        errors = READ_ERRORS if self.method in ("GET", "HEAD") else WRITE_ERRORS
        for code, error in errors.items():
            if str(code) not in responses:
                responses[str(code)] = self._get_response_for_code(
                    error, str(code), ["application/json"], direction=direction
                )
        return responses

"""Shared pieces of the OpenAPI description: the error responses every operation documents."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse

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
    "The action is not allowed in the record's current state.",
    409,
    "conflict",
    "Only a submitted update can be approved; this one is draft.",
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
WRITE_ERRORS = {**READ_ERRORS, 409: CONFLICT, 412: PRECONDITION_FAILED, 428: PRECONDITION_REQUIRED}

IF_MATCH = OpenApiParameter(
    "If-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=True,
    description='The ETag of the version you read, e.g. "3". Missing: 428; stale: 412.',
)


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
    """Documents the error responses every operation can give, in the one error format."""

    def _get_response_bodies(self, direction: Any = "response") -> dict[str, Any]:
        responses = super()._get_response_bodies(direction)
        errors = READ_ERRORS if self.method in ("GET", "HEAD") else WRITE_ERRORS
        for code, error in errors.items():
            if str(code) not in responses:
                responses[str(code)] = self._get_response_for_code(
                    error, str(code), ["application/json"], direction=direction
                )
        return responses

"""Errors reported to Sentry, without personal data; only where ``SENTRY_DSN`` is set.

``sentry_init`` is called by the production settings when a DSN is configured, and nowhere else: without
one the SDK is never initialised and sends nothing. Reports carry the signed-in user's id and nothing else
about the user; ``scrub_event`` removes what the SDK could still pick up: cookies, credentials in headers,
request bodies, the client's address, secrets in query strings, e-mail addresses and API tokens in any text.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import parse_qsl, urlencode

import sentry_sdk
from sentry_sdk.integrations.celery import CeleryIntegration
from sentry_sdk.integrations.django import DjangoIntegration
from sentry_sdk.integrations.logging import ignore_logger
from sentry_sdk.scope import add_global_event_processor
from sentry_sdk.transport import Transport
from sentry_sdk.types import Event, Hint

if TYPE_CHECKING:
    from sentry_sdk._types import DataCollectionUserOptions

from lsis.observability.logging import redact_text

FILTERED = "[Filtered]"
# Header and query parameter names whose values are credentials or personal data.
_SENSITIVE_NAME = re.compile(
    r"auth|cookie|token|secret|passw|key|session|csrf|signature|e-?mail|forwarded|real-ip|client-ip",
    re.IGNORECASE,
)

_processor_added = False

# Stricter than the SDK's defaults: no user details (the id is added by ``_add_user_id``), cookies, bodies,
# queries' or queues' data, and no local variables of a failing frame (they can hold anything, a user's e-mail
# address among them). The SDK filters headers and query parameters named like credentials in any case.
DATA_COLLECTION: DataCollectionUserOptions = {
    "user_info": False,
    "cookies": {"mode": "off"},
    "http_headers": {
        "request": {"mode": "denylist", "terms": ["cookie", "forwarded", "-ip", "remote-", "via", "mail"]}
    },
    "http_bodies": [],
    "url_query_params": {"mode": "denylist", "terms": ["mail", "user", "name"]},
    "graphql": {"document": False, "variables": False},
    "gen_ai": {"inputs": False, "outputs": False},
    "database_query_data": False,
    "queues": False,
    "stack_frame_variables": False,
}


def _redacted(value: Any) -> Any:
    """``value`` with every string in it, however deeply nested, passed through ``redact_text``."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {key: _redacted(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_redacted(item) for item in value]
    return value


def _scrubbed_query(query: str) -> str:
    """A query string with the values of sensitive parameters (``token=``, ``email=``) filtered out."""
    pairs = parse_qsl(query, keep_blank_values=True)
    return urlencode([(name, FILTERED if _SENSITIVE_NAME.search(name) else value) for name, value in pairs])


def scrub_event(event: Event, hint: Hint) -> Event | None:
    """Sentry's ``before_send``: the event with the user reduced to an id and the request to safe parts."""
    data = cast(dict[str, Any], event)
    user = data.pop("user", None) or {}
    if user.get("id") is not None:
        data["user"] = {"id": str(user["id"])}
    request = data.get("request")
    if isinstance(request, dict):
        for part in ("cookies", "data"):
            request.pop(part, None)
        env = request.get("env")
        if isinstance(env, dict):
            env.pop("REMOTE_ADDR", None)
        headers = request.get("headers")
        if isinstance(headers, dict):
            request["headers"] = {name: value for name, value in headers.items() if not _SENSITIVE_NAME.search(name)}
        query = request.get("query_string")
        if isinstance(query, str):
            request["query_string"] = _scrubbed_query(query)
        else:
            request.pop("query_string", None)
    return cast(Event, _redacted(data))


def _add_user_id(event: Event, hint: Hint) -> Event | None:
    """An event raised while answering a request names the signed-in user by id (looked up if need be)."""
    from lsis.observability.requests import current_request, resolved_user_id

    request = current_request()
    user_id = resolved_user_id(request, look_up=True) if request is not None else None
    if user_id is not None:
        cast(dict[str, Any], event)["user"] = {"id": str(user_id)}
    return event


def sentry_init(
    *,
    dsn: str,
    environment: str,
    release: str | None = None,
    traces_sample_rate: float = 0.0,
    transport: Transport | None = None,
) -> None:
    """Start reporting errors of Django views and Celery tasks to Sentry at ``dsn``, without personal data.

    ``transport`` replaces the HTTP transport (tests capture the envelopes with it).
    """
    global _processor_added  # added once per process, however often this is called
    if not _processor_added:
        add_global_event_processor(_add_user_id)
        _processor_added = True
    # The request and task lines are breadcrumbs of no use to an error report: Sentry has the request itself.
    ignore_logger("lsis.requests")
    ignore_logger("lsis.tasks")
    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        release=release or None,
        integrations=[DjangoIntegration(), CeleryIntegration()],
        # What the integrations collect (the SDK's successor to send_default_pii=False, which it deprecates):
        # no user details, cookies or bodies; headers and query parameters without the sensitive ones.
        data_collection=DATA_COLLECTION,
        max_request_body_size="never",
        traces_sample_rate=traces_sample_rate,
        before_send=scrub_event,
        before_send_transaction=scrub_event,
        transport=transport,
    )

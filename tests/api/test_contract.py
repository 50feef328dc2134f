"""Contract fuzzing: schemathesis sends requests for every operation of the published schema to a live server.

For every operation, examples of valid data and of invalid data, as a partner and as a reviewer, over real
HTTP to a server in a thread of the test (``live_api``), each answer checked with schemathesis' default
checks: no server error, and status codes, content types and bodies as the schema documents them. It uses
schemathesis' Python API (operation strategies and ``call_and_validate``) rather than its pytest plugin,
whose lazy loader does not run on this pytest version. It runs on PostgreSQL (CI's first suite run) and
is skipped on SQLite.

The server is not pytest-django's ``live_server``: that one needs ``transactional_db``, whose flush at the
end of the test would empty the database the suite seeds once per session. This one is Django's own
threaded test server (as ``LiveServerTestCase`` runs it) answering on the test's database connection,
so it sees the test's data and everything it writes is rolled back with the test, like every other test.
Requests reach it one at a time, so the connection is never used by two threads at once.

Other checks (``--checks all``: negative data rejection, headers, and more) are not run here.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler
from django.core.signals import request_finished, request_started
from django.db import DEFAULT_DB_ALIAS, close_old_connections, connections
from django.test import override_settings
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from commitments import roles

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
EXAMPLES = 10
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


class _TestConnectionServer(ThreadedWSGIServer):
    """Django's threaded test server, leaving the test's database connection open after each request."""

    answered = 0

    def _close_connections(self) -> None:
        self.answered += 1


@dataclass
class LiveApi:
    """Where the live server answers, and the server itself (to count what it answered)."""

    url: str
    server: _TestConnectionServer


@pytest.fixture
def live_api(db: Any, quarterly_figures: Any) -> Iterator[LiveApi]:
    """The base URL of a live HTTP server answering on the test's connection, inside the test's transaction."""
    connection = connections[DEFAULT_DB_ALIAS]
    if connection.vendor != "postgresql":
        pytest.skip("contract fuzzing runs on PostgreSQL (set DATABASE_URL); CI runs it there")
    # As Django's test client does: the end of a request must not close the test's database connection.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    connection.inc_thread_sharing()
    server = _TestConnectionServer(
        ("127.0.0.1", 0), _QuietHandler, allow_reuse_address=False, connections_override={DEFAULT_DB_ALIAS: connection}
    )
    server.set_app(WSGIHandler())
    thread = threading.Thread(target=server.serve_forever, name="live-api", daemon=True)
    thread.start()
    try:
        yield LiveApi(f"http://127.0.0.1:{server.server_address[1]}", server)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
        connection.dec_thread_sharing()
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture
def tokens(token_for: Callable[..., str]) -> dict[str, str]:
    """A token for a new partner and one for a new reviewer."""
    return {role: token_for(role) for role in (roles.PARTNER, roles.REVIEWER)}


def _fuzz(operation: Any, mode: GenerationMode, base_url: str, headers: dict[str, str]) -> None:
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
        derandomize=True,
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        case.call_and_validate(base_url=base_url, headers=headers, checks=CHECKS, timeout=30)

    run()


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=str)
@pytest.mark.parametrize("role", [roles.PARTNER, roles.REVIEWER])
@override_settings(API_FAILED_TOKEN_LIMIT=1_000_000)
def test_every_operation_keeps_its_contract(live_api: LiveApi, tokens: dict[str, str], role: str, mode: Any) -> None:
    api_schema = schemathesis.openapi.from_url(f"{live_api.url}/api/schema/?format=json", timeout=30)
    headers = {"Authorization": f"Token {tokens[role]}"}
    failures: dict[str, str] = {}
    fuzzed, nothing_invalid = [], []
    for result in api_schema.get_all_operations():
        assert isinstance(result, Ok), f"the schema describes an operation it cannot build: {result.err()}"
        operation = result.ok()
        try:
            _fuzz(operation, mode, live_api.url, headers)
            fuzzed.append(operation.label)
        except Unsatisfiable:
            # Nothing about this operation can be made invalid (a free-text path parameter, no query
            # parameters): schemathesis' own runner skips it the same way.
            assert mode == GenerationMode.NEGATIVE, operation.label
            nothing_invalid.append(operation.label)
        except (Exception, BaseExceptionGroup) as error:  # collect every operation's failures, report them all
            failures[operation.label] = str(error)[:3000]
    assert len(fuzzed) + len(nothing_invalid) + len(failures) >= 30
    assert len(fuzzed) >= (30 if mode == GenerationMode.POSITIVE else 15), nothing_invalid
    assert not failures, "\n\n".join(f"{label}:\n{message}" for label, message in failures.items())
    # Every example went over HTTP to the live server (the connections it closed after answering).
    assert live_api.server.answered >= len(fuzzed) * 2, live_api.server.answered

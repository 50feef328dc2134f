"""Contract fuzzing: schemathesis generates requests for every operation of the published OpenAPI schema.

For every operation, 50 examples of valid data and 50 of invalid data, as a partner and as a reviewer,
each checked with schemathesis' default checks (no server errors; status codes, content types and bodies
as documented; invalid data rejected). It uses schemathesis' Python API (operation strategies and
``call_and_validate``) rather than its pytest plugin, whose lazy loader does not run on this pytest
version. It runs on PostgreSQL (CI's first suite run), in the test's transaction like every other test,
through the WSGI application, and is skipped on SQLite.

One default check is left out: ``positive_data_acceptance``, which expects every schema-valid request to
succeed. The API deliberately refuses some schema-valid requests with 400: an unknown code or UUID in a
filter, and combinations OpenAPI 3.0 cannot express (``cursor`` with ``page``). All other default checks
run, ``negative_data_rejection`` included.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, connection
from django.test import override_settings
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

from commitments import roles

pytestmark = pytest.mark.postgres
EXAMPLES = 50


@pytest.fixture
def api_schema(db: Any, quarterly_figures: Any) -> Iterator[Any]:
    """The schema the API serves, loaded through the WSGI application (no server, same transaction)."""
    if connection.vendor != "postgresql":
        pytest.skip("contract fuzzing runs on PostgreSQL (set DATABASE_URL); CI runs it there")
    # As Django's test client does: the end of a request must not close the test's database connection.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield schemathesis.openapi.from_wsgi("/api/schema/", WSGIHandler())
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture
def tokens(token_for: Callable[..., str]) -> dict[str, str]:
    """A token for a new partner and one for a new reviewer."""
    return {role: token_for(role) for role in (roles.PARTNER, roles.REVIEWER)}


def _fuzz(operation: Any, mode: GenerationMode, headers: dict[str, str]) -> None:
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
        derandomize=True,
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        case.call_and_validate(headers=headers, excluded_checks=[positive_data_acceptance])

    run()


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=str)
@pytest.mark.parametrize("role", [roles.PARTNER, roles.REVIEWER])
@override_settings(API_FAILED_TOKEN_LIMIT=1_000_000)
def test_every_operation_keeps_its_contract(api_schema: Any, tokens: dict[str, str], role: str, mode: Any) -> None:
    headers = {"Authorization": f"Token {tokens[role]}"}
    failures: dict[str, str] = {}
    fuzzed, nothing_invalid = [], []
    for result in api_schema.get_all_operations():
        operation = result.ok()
        try:
            _fuzz(operation, mode, headers)
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

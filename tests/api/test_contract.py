"""Contract fuzzing: schemathesis, every check on, as a partner and as a reviewer, finds nothing.

This is the run a partner would make (``st run <server>/api/schema/ --checks all -H "Authorization: Token
..."``) against a live server in a thread of the test (``live_api``): every check (``--checks all``:
no server error, status codes, content types, bodies and headers as documented, schema-valid requests
accepted, schema-violating ones refused, unsupported methods answered 405, and the rest), every phase
(examples, coverage, fuzzing, and the stateful phase chaining operations through the records they
return), at least ``EXAMPLES`` examples per operation, with a fixed seed so that a run is reproduced by
running it again. Zero failures are allowed: the schema says exactly what the server accepts.

The schemathesis CLI runs in a subprocess with the project's ``schemathesis.toml`` (which statuses are a
legitimate refusal of valid data, and why). ``LSIS_CONTRACT_PATHS`` (a regular expression) restricts the
run to the paths it matches, e.g. ``LSIS_CONTRACT_PATHS='^/api/v1/proposals/'``. It runs on both
databases. The partner belongs to an organisation (so proposing is exercised, not only refused), and a
quarter is signed off with its open-data release published (so the releases' operations find one).

The server is not pytest-django's ``live_server``: that one needs ``transactional_db``, whose flush at the
end of the test would empty the database the suite seeds once per session. This one is Django's own
threaded test server (as ``LiveServerTestCase`` runs it) answering on the test's database connection,
so it sees the test's data and everything it writes (the stateful phase writes) is rolled back with the
test, like every other test. It answers one request at a time, so the connection is never used by two
threads at once.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler
from django.core.signals import request_finished, request_started
from django.db import DEFAULT_DB_ALIAS, close_old_connections, connections

from commitments import roles
from commitments.models import Organisation, PartnerMembership
from commitments.periods import Quarter
from commitments.proposals import partner_membership_save
from lsis.api.tokens import api_token_issue
from metrics.releases import release_publish
from metrics.services import quarter_lock

pytestmark = [pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]
# Examples per operation and phase; the seed makes a run reproducible (run it again, get the same requests).
EXAMPLES = 50
SEED = 20171127
# Two workers: one builds its next request while the server answers the other's (the server answers one
# request at a time, on the test's database connection).
WORKERS = 2
# Whole-run bound: a run well inside it takes under four minutes per role on two cores.
TIMEOUT_SECONDS = 900
# Requests without end: the throttles would answer 429 to most of them, which tests nothing.
UNTHROTTLED = {"read": "1000000/minute", "export": "1000000/minute", "write": "1000000/minute"}


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


class _TestConnectionServer(ThreadedWSGIServer):
    """Django's threaded test server, leaving the test's database connection open after each request."""

    answered = 0

    def _close_connections(self) -> None:
        self.answered += 1


class _OneAtATime:
    """The WSGI application answering one request at a time: they all run on the test's one connection.

    The lock is held from the start of a request until its response has been sent and closed (a streamed
    export reads the database while it is sent), not while a kept-alive connection waits for its next
    request, so schemathesis' workers overlap building their next request with the server answering.
    """

    def __init__(self, app: Any) -> None:
        self.app = app
        self.lock = threading.Lock()

    def __call__(self, environ: Any, start_response: Any) -> Any:
        self.lock.acquire()
        try:
            return _Released(self.app(environ, start_response), self.lock)
        except BaseException:
            self.lock.release()
            raise


class _Released:
    """A response that releases the lock once the server has closed it."""

    def __init__(self, response: Any, lock: threading.Lock) -> None:
        self.response = response
        self.lock = lock

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.response)

    def close(self) -> None:
        try:
            self.response.close()
        finally:
            self.lock.release()


@dataclass
class LiveApi:
    """Where the live server answers, and the server itself (to count what it answered)."""

    url: str
    server: _TestConnectionServer


@pytest.fixture
def live_api(db: Any, quarterly_figures: Any) -> Iterator[LiveApi]:
    """The base URL of a live HTTP server answering on the test's connection, inside the test's transaction."""
    connection = connections[DEFAULT_DB_ALIAS]
    # As Django's test client does: the end of a request must not close the test's database connection.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    connection.inc_thread_sharing()
    server = _TestConnectionServer(
        ("127.0.0.1", 0), _QuietHandler, allow_reuse_address=False, connections_override={DEFAULT_DB_ALIAS: connection}
    )
    server.set_app(_OneAtATime(WSGIHandler()))
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
def tokens(user_with_role: Callable[..., Any], api_token: Callable[[Any], str]) -> dict[str, str]:
    """A token for a new partner of Wellcome Trust and one for a new reviewer; a quarter signed off and released."""
    reviewer = user_with_role(roles.REVIEWER)
    partner = user_with_role(roles.PARTNER)
    wellcome = Organisation.objects.get(name="Wellcome Trust")
    partner_membership_save(membership=PartnerMembership(user=partner, organisation=wellcome), user=reviewer)
    quarter_lock(quarter=Quarter(2019, 1), user=reviewer)
    release_publish(quarter=Quarter(2019, 1), user=reviewer)  # as the task enqueued after the commit does
    return {roles.PARTNER: api_token(partner), roles.REVIEWER: api_token(reviewer)}


@pytest.fixture
def api_token() -> Callable[[Any], str]:
    """A new token of ``user``'s."""

    def issue(user: Any) -> str:
        return api_token_issue(user=user, expires_in=None)[1]

    return issue


def schemathesis_command(base_url: str, token: str, paths: str | None) -> list[str]:
    """The ``st run`` command line: every check, every phase, the project's configuration."""
    command = [
        str(Path(sys.executable).with_name("st")),
        "--config-file",
        str(ROOT / "schemathesis.toml"),
        "--no-color",
        "run",
        f"{base_url}/api/schema/?format=json",
        "--url",
        base_url,
        "--checks",
        "all",
        "--phases",
        "examples,coverage,fuzzing,stateful",
        "--max-examples",
        str(EXAMPLES),
        "--seed",
        str(SEED),
        "--generation-database",
        "none",
        "--workers",
        str(WORKERS),
        "--request-timeout",
        "60",
        "-H",
        f"Authorization: Token {token}",
    ]
    if paths:
        command += ["--include-path-regex", paths]
    return command


@pytest.mark.parametrize("role", [roles.PARTNER, roles.REVIEWER], ids=["partner", "reviewer"])
def test_every_operation_keeps_its_contract(
    live_api: LiveApi, tokens: dict[str, str], role: str, tmp_path: Path, settings: Any
) -> None:
    rest_framework = dict(settings.REST_FRAMEWORK)
    rest_framework["DEFAULT_THROTTLE_RATES"] = {**rest_framework["DEFAULT_THROTTLE_RATES"], **UNTHROTTLED}
    settings.REST_FRAMEWORK = rest_framework
    # Through the settings fixture, never @override_settings as well: the two restore in the wrong order
    # and left the raised limit in place for every later test in the process (conftest now refuses that).
    settings.API_FAILED_TOKEN_LIMIT = 1_000_000
    command = schemathesis_command(live_api.url, tokens[role], os.environ.get("LSIS_CONTRACT_PATHS"))
    started = time.monotonic()
    # Its own working directory: schemathesis keeps a cache there, which must not land in the project.
    run = subprocess.run(  # noqa: S603 - our own command line
        command, cwd=tmp_path, capture_output=True, text=True, timeout=TIMEOUT_SECONDS, check=False
    )
    took = time.monotonic() - started
    report = f"{role}, {took:.0f} s\n$ {' '.join(command[:-1])} 'Authorization: Token ...'\n{run.stdout}\n{run.stderr}"
    assert run.returncode == 0, report
    assert "Tested:" in run.stdout, report
    # Every example went over HTTP to the live server (the requests it answered).
    assert live_api.server.answered >= 100, report

"""Logs of requests and tasks as production writes them (JSON lines), and errors as Sentry receives them.

Each test that reads logs applies the JSON configuration production uses, catches its lines in memory,
and puts the test settings' configuration back afterwards. Tasks run in-process (eager), as they do
without a broker; the path through a broker is followed with kombu's in-memory transport.
"""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import sentry_sdk
import structlog
from celery import shared_task
from celery.worker.request import Request as WorkerRequest
from django.conf import settings as django_settings
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.test import Client, RequestFactory
from django.urls import include, path, reverse
from django.views.decorators.csrf import csrf_exempt
from rest_framework.test import APIClient
from sentry_sdk.envelope import Envelope
from sentry_sdk.transport import Transport

from commitments import roles
from commitments.models import Commitment
from lsis.api.tokens import api_token_issue
from lsis.celery import app, enqueue_within_timeout
from lsis.observability.logging import logging_configure, logging_settings
from lsis.observability.sentry import sentry_init
from lsis.observability.tasks import CONTEXT_HEADER

pytestmark = pytest.mark.django_db

REQUEST_KEYS = {
    "event",
    "level",
    "logger",
    "timestamp",
    "request_id",
    "user_id",
    "method",
    "route",
    "path",
    "status",
    "duration_ms",
}
TASK_KEYS = {"event", "level", "logger", "timestamp", "task_id", "task_name", "request_id", "outcome", "duration_ms"}
ECHO_TASK = "tests.logging.echo"
FAIL_TASK = "tests.logging.fail"
RETRY_TASK = "tests.logging.retry"
PASSWORD = "correct horse battery staple"


@shared_task(name=ECHO_TASK)
def echo(value: int) -> int:
    """A task that succeeds."""
    return value


@shared_task(name=FAIL_TASK)
def fail() -> None:
    """A task that fails."""
    raise LookupError("nothing here")


@shared_task(name=RETRY_TASK, bind=True, max_retries=1)
def retry_once(self: Any) -> str:
    """A task that asks to run again the first time, and succeeds the second."""
    if self.request.retries == 0:
        raise self.retry(countdown=0)
    return "done"


def enqueue_view(request: HttpRequest) -> HttpResponse:
    """Enqueue work the two ways the service does: ``delay``, and by name within the enqueue timeout."""
    echo.delay(1)
    enqueue_within_timeout(ECHO_TASK, 2)
    return JsonResponse({"ok": True})


def send_view(request: HttpRequest) -> HttpResponse:
    """Enqueue work by name within the enqueue timeout, as an approval does after its commit."""
    enqueue_within_timeout(ECHO_TASK, 3)
    return JsonResponse({"ok": True})


@csrf_exempt  # posted to as a browser would not: without the form's token
def failing_view(request: HttpRequest) -> HttpResponse:
    """A view with a bug."""
    raise RuntimeError("the view failed")


# The service's URLs with two of the tests' own (ROOT_URLCONF points here where a test needs them).
urlpatterns = [
    path("test-logging/enqueue/", enqueue_view),
    path("test-logging/send/", send_view),
    path("test-logging/fail/", failing_view),
    path("", include("lsis.urls")),
]


@pytest.fixture
def json_logs() -> Iterator[Callable[[], list[dict[str, Any]]]]:
    """Logging configured as in production (JSON); returns a function reading the lines written since the last call.

    Every line must be a JSON object. The test settings' configuration is applied again afterwards.
    """
    logging_configure(logging_settings(log_format="json", level="INFO"))
    buffer = io.StringIO()
    handler = logging.getLogger().handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(buffer)

    def read() -> list[dict[str, Any]]:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return [json.loads(line) for line in text.splitlines()]

    try:
        yield read
    finally:
        logging_configure(django_settings.LOGGING)
        structlog.contextvars.clear_contextvars()


@pytest.fixture
def eager_tasks() -> Iterator[None]:
    """Tasks run in-process, even where the suite runs with a broker; the app's configuration is put back."""
    changes = app.conf.changes
    saved = changes.get("task_always_eager") if changes is not None else None
    app.conf.update(task_always_eager=True, task_eager_propagates=True)
    try:
        yield
    finally:
        if changes is not None:
            changes.pop("task_always_eager", None)
            changes.pop("task_eager_propagates", None)
        if saved is not None:
            app.conf.update(task_always_eager=saved)


@pytest.fixture
def memory_broker(settings: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Celery publishing to kombu's in-memory transport, not eager; the app's configuration is put back."""
    overrides = {"broker_url": "memory://", "task_always_eager": False}
    changes = app.conf.changes
    assert changes is not None, "a configured app keeps its changes"
    saved = {key: changes[key] for key in overrides if key in changes}
    settings.CELERY_BROKER_URL = "memory://"
    settings.CELERY_TASK_ALWAYS_EAGER = False
    monkeypatch.setenv("CELERY_BROKER_URL", "memory://")
    app.conf.update(overrides)
    app.close()  # connections pooled for another broker are dropped, and made again for this one
    try:
        yield
    finally:
        for key in overrides:
            changes.pop(key, None)
        app.conf.update(saved)
        app.close()


def lines_of(lines: list[dict[str, Any]], event: str) -> list[dict[str, Any]]:
    """The lines of one event."""
    return [line for line in lines if line["event"] == event]


# --- One line per request ------------------------------------------------------------------------------


def test_an_api_request_is_one_line_with_the_route_the_user_id_and_the_duration(
    json_logs: Callable[[], list[dict[str, Any]]], user_with_role: Callable[..., Any], api_as: Callable[..., APIClient]
) -> None:
    user = user_with_role(roles.BOARD_MEMBER)
    client = api_as(user)
    reference = Commitment.objects.values_list("reference", flat=True).first()
    json_logs()

    listed = client.get(reverse("api:commitment-list"))
    one = client.get(reverse("api:commitment-detail", kwargs={"reference": reference}))

    assert (listed.status_code, one.status_code) == (200, 200)
    first, second = lines_of(json_logs(), "request_finished")
    assert set(first) == REQUEST_KEYS
    assert first["user_id"] == user.pk
    assert first["method"] == "GET"
    assert first["route"] == "api/v1/commitments/"
    assert first["path"] == "/api/v1/commitments/"
    assert first["status"] == 200
    assert first["level"] == "info"
    assert isinstance(first["duration_ms"], int | float)
    assert first["duration_ms"] > 0
    assert first["request_id"] == listed["X-Request-ID"]
    # The pattern, not the identifier: every commitment's page is counted under one route.
    assert second["route"] == "api/v1/commitments/<reference>/"
    assert second["path"] == f"/api/v1/commitments/{reference}/"


def test_a_dashboard_page_is_one_line_with_the_signed_in_user_id(
    json_logs: Callable[[], list[dict[str, Any]]], user_with_role: Callable[..., Any]
) -> None:
    user = user_with_role(roles.BOARD_MEMBER)
    client = Client()
    client.force_login(user)
    reference = Commitment.objects.values_list("reference", flat=True).first()
    json_logs()

    response = client.get(reverse("dashboards:commitment", kwargs={"reference": reference}))

    assert response.status_code == 200
    (line,) = lines_of(json_logs(), "request_finished")
    assert set(line) == REQUEST_KEYS
    assert (line["user_id"], line["method"], line["status"]) == (user.pk, "GET", 200)
    assert line["route"] == "commitments/<str:reference>/"
    assert line["path"] == f"/commitments/{reference}/"
    assert line["request_id"] == response["X-Request-ID"]


def test_an_anonymous_request_and_an_unknown_path_are_logged_without_a_user(
    json_logs: Callable[[], list[dict[str, Any]]],
) -> None:
    response = Client().get("/no-such-page/")

    assert response.status_code == 404
    lines = json_logs()
    (line,) = lines_of(lines, "request_finished")
    assert (line["user_id"], line["route"], line["status"]) == (None, None, 404)
    # Django's own line about the 404 is JSON too, under the same request id.
    (django_line,) = [line for line in lines if line["logger"] == "django.request"]
    assert django_line["request_id"] == line["request_id"] == response["X-Request-ID"]
    assert django_line["level"] == "warning"


def test_a_sane_incoming_request_id_is_echoed_and_logged(json_logs: Callable[[], list[dict[str, Any]]]) -> None:
    incoming = "edge-7f3a9c2e:1.2"

    response = Client().get(reverse("login"), headers={"X-Request-ID": incoming})

    assert response["X-Request-ID"] == incoming
    assert lines_of(json_logs(), "request_finished")[0]["request_id"] == incoming


@pytest.mark.parametrize(
    "incoming",
    ["short", "x" * 129, "has spaces in it", '"><script>alert(1)</script>', "-starts-with-a-dash", "ümlaut-1234"],
)
def test_a_malformed_incoming_request_id_is_replaced(
    json_logs: Callable[[], list[dict[str, Any]]], incoming: str
) -> None:
    response = Client().get(reverse("login"), headers={"X-Request-ID": incoming})

    replaced = response["X-Request-ID"]
    assert replaced != incoming
    assert str(uuid.UUID(replaced)) == replaced
    assert lines_of(json_logs(), "request_finished")[0]["request_id"] == replaced


def test_a_plain_logger_writes_json_lines_with_the_request_id() -> None:
    """The project's own ``logging.getLogger(__name__)`` calls come out as JSON lines, with the context."""
    logging_configure(logging_settings(log_format="json", level="INFO"))
    buffer = io.StringIO()
    handler = logging.getLogger().handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(buffer)
    try:
        with structlog.contextvars.bound_contextvars(request_id="req-12345678"):
            logging.getLogger("metrics.services").warning("Could not enqueue %s", "a recompute")
            try:
                raise ValueError("broken")
            except ValueError:
                logging.getLogger("metrics.services").exception("It failed")
    finally:
        logging_configure(django_settings.LOGGING)
    warning, error = (json.loads(line) for line in buffer.getvalue().splitlines())
    assert warning == {
        "event": "Could not enqueue a recompute",
        "logger": "metrics.services",
        "level": "warning",
        "timestamp": warning["timestamp"],
        "request_id": "req-12345678",
    }
    assert error["level"] == "error"
    assert "ValueError: broken" in error["exception"]


def test_an_unknown_log_format_stops_the_settings() -> None:
    from django.core.exceptions import ImproperlyConfigured

    with pytest.raises(ImproperlyConfigured, match="LOG_FORMAT"):
        logging_settings(log_format="xml", level="INFO")


# --- Tasks under the request that enqueued them -------------------------------------------------------


@pytest.mark.urls(__name__)
def test_tasks_enqueued_by_a_request_log_its_request_id(
    json_logs: Callable[[], list[dict[str, Any]]], eager_tasks: None
) -> None:
    response = Client().get("/test-logging/enqueue/", headers={"X-Request-ID": "request-0001"})

    assert response.status_code == 200
    lines = json_logs()
    tasks = lines_of(lines, "task_finished")
    assert len(tasks) == 2, "delay and enqueue_within_timeout"
    for line in tasks:
        assert set(line) == TASK_KEYS
        assert (line["task_name"], line["request_id"], line["outcome"]) == (ECHO_TASK, "request-0001", "succeeded")
        assert isinstance(line["duration_ms"], float)
    assert tasks[0]["task_id"] != tasks[1]["task_id"]
    # The request's own line comes after its tasks' and still has its id: running them did not lose it.
    (request_line,) = lines_of(lines, "request_finished")
    assert request_line["request_id"] == "request-0001"


def test_a_failed_task_logs_outcome_failed(json_logs: Callable[[], list[dict[str, Any]]], eager_tasks: None) -> None:
    with structlog.contextvars.bound_contextvars(request_id="request-0002"):
        result = fail.apply(throw=False)
        with pytest.raises(LookupError):
            fail.delay()
        # The task gave back the request's context.
        assert structlog.contextvars.get_contextvars() == {"request_id": "request-0002"}

    kept, propagated = lines_of(json_logs(), "task_finished")
    assert result.failed()
    assert set(kept) == TASK_KEYS | {"error"}
    assert (kept["outcome"], kept["error"], kept["level"], kept["task_name"]) == (
        "failed",
        "LookupError",
        "error",
        FAIL_TASK,
    )
    assert kept["task_id"] == result.id
    assert (propagated["outcome"], propagated["request_id"]) == ("failed", "request-0002")


@pytest.mark.urls(__name__)
def test_a_task_sent_by_name_through_a_broker_carries_the_request_id_to_the_worker(
    json_logs: Callable[[], list[dict[str, Any]]], memory_broker: None
) -> None:
    """``enqueue_within_timeout`` publishes on a producer of its own: the message still carries the request id."""
    with app.connection_for_write() as connection:
        queue = app.amqp.queues[app.conf.task_default_queue](connection.default_channel)
        queue.declare()
        queue.purge()

        response = Client().get("/test-logging/send/", headers={"X-Request-ID": "request-0003"})

        assert response.status_code == 200
        message = queue.get(no_ack=True)
        assert queue.get(no_ack=True) is None
    assert message is not None
    assert message.headers[CONTEXT_HEADER] == {"request_id": "request-0003"}
    (enqueued,) = lines_of(json_logs(), "task_enqueued")
    assert (enqueued["request_id"], enqueued["child_task_id"]) == ("request-0003", message.headers["id"])

    # A worker runs the message: its line has the request id from the header, not from any context.
    assert structlog.contextvars.get_contextvars() == {}
    WorkerRequest(message, app=app, task=app.tasks[ECHO_TASK]).execute()
    (line,) = lines_of(json_logs(), "task_finished")
    assert set(line) == TASK_KEYS
    assert (line["request_id"], line["task_id"], line["outcome"]) == (
        "request-0003",
        message.headers["id"],
        "succeeded",
    )


def test_a_retried_task_logs_outcome_retried_and_is_sent_again_under_the_request_id(
    json_logs: Callable[[], list[dict[str, Any]]], memory_broker: None
) -> None:
    with app.connection_for_write() as connection:
        queue = app.amqp.queues[app.conf.task_default_queue](connection.default_channel)
        queue.declare()
        queue.purge()
        with structlog.contextvars.bound_contextvars(request_id="request-0005"):
            enqueue_within_timeout(RETRY_TASK)
        message = queue.get(no_ack=True)
        assert message is not None
        json_logs()

        WorkerRequest(message, app=app, task=app.tasks[RETRY_TASK]).execute()
        queue.purge()

    lines = json_logs()
    (again,) = lines_of(lines, "task_enqueued")
    (retried,) = lines_of(lines, "task_finished")
    assert (retried["outcome"], retried["level"], retried["request_id"]) == ("retried", "warning", "request-0005")
    # Sent again under the same task id, from within the task: the request id goes on with it.
    assert again["child_task_id"] == retried["task_id"] == message.headers["id"]
    assert again["request_id"] == "request-0005"


# --- No secrets or personal data in the logs ----------------------------------------------------------


def test_signing_in_and_a_token_request_log_no_password_token_or_e_mail(
    json_logs: Callable[[], list[dict[str, Any]]], user_with_role: Callable[..., Any]
) -> None:
    user = user_with_role(roles.BOARD_MEMBER, email="ada.lovelace@ols.example.gov.uk")
    partner = user_with_role(roles.PARTNER, email="partner.person@example.com")
    _, token = api_token_issue(user=partner, expires_in=None)
    client = Client()

    wrong = client.post(reverse("login"), {"username": user.username, "password": "not-the-password-at-all"})
    right = client.post(reverse("login"), {"username": user.username, "password": PASSWORD})
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    # The API refuses parameters it does not know (400), after authenticating the token.
    listed = api.get(reverse("api:commitment-list"), {"token": token, "email": partner.email})
    refused = APIClient(headers={"Authorization": f"Token {token}x"}).get(reverse("api:commitment-list"))

    assert (wrong.status_code, right.status_code, listed.status_code, refused.status_code) == (200, 302, 400, 401)
    lines = json_logs()
    text = json.dumps(lines)
    for secret in (PASSWORD, "not-the-password-at-all", token, token[:20], user.email, partner.email, "@"):
        assert secret not in text
    for name in (user.username, partner.username):
        assert f'"{name}"' not in text
    assert client.cookies["sessionid"].value not in text
    requests = lines_of(lines, "request_finished")
    assert [line["user_id"] for line in requests] == [None, user.pk, partner.pk, None]
    assert all("?" not in line["path"] for line in requests)


def test_the_request_line_adds_no_database_query(
    user_with_role: Callable[..., Any], django_assert_num_queries: Any
) -> None:
    """A signed-in visitor's request that never looks the user up is not made to, just to log the user's id."""
    client = Client()
    client.force_login(user_with_role(roles.BOARD_MEMBER))
    client.get(reverse("help"))  # the session is read once here, so the count below is the page's own

    with django_assert_num_queries(0):
        response = Client().get(reverse("api:commitment-list"))

    assert response.status_code == 401


# --- Sentry ----------------------------------------------------------------------------------------------


class CapturingTransport(Transport):
    """Keeps the envelopes Sentry would send."""

    def __init__(self) -> None:
        super().__init__()
        self.envelopes: list[Envelope] = []

    def capture_envelope(self, envelope: Envelope) -> None:
        """Keep the envelope."""
        self.envelopes.append(envelope)

    def events(self) -> list[dict[str, Any]]:
        """The error events in the envelopes kept."""
        payloads = [item.payload.json for envelope in self.envelopes for item in envelope.items if item.type == "event"]
        return [payload for payload in payloads if payload is not None]


def wsgi_answer(environ: dict[str, Any]) -> tuple[str, dict[str, str]]:
    """Answer a request through Django's WSGI handler, as the server does (Sentry wraps that handler)."""
    started: list[tuple[str, list[tuple[str, str]]]] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None, /) -> Callable[[bytes], None]:
        started.append((status, headers))
        return lambda data: None

    # As Django's test client does: the test's database connection must stay open.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        answer = WSGIHandler()(environ, start_response)
        b"".join(answer)
        answer.close()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
    status, headers = started[0]
    return status, dict(headers)


@pytest.fixture
def sentry_transport() -> Iterator[CapturingTransport]:
    """Sentry initialised as production does with a DSN, its envelopes kept here; switched off afterwards."""
    transport = CapturingTransport()
    sentry_init(dsn="https://public@sentry.invalid/1", environment="test", release="lsis@test", transport=transport)
    try:
        yield transport
    finally:
        sentry_sdk.get_client().close()
        sentry_sdk.get_global_scope().set_client(None)


@pytest.mark.urls(__name__)
def test_an_error_in_a_view_reaches_sentry_with_the_user_id_only(
    sentry_transport: CapturingTransport, user_with_role: Callable[..., Any]
) -> None:
    user = user_with_role(roles.EDITOR, email="grace.hopper@ols.example.gov.uk")
    _, token = api_token_issue(user=user, expires_in=None)
    client = Client()
    client.force_login(user)
    session = client.cookies["sessionid"].value
    request = RequestFactory().post(
        f"/test-logging/fail/?token={token}&page=2&email={user.email}",
        {"email": user.email, "password": PASSWORD, "note": "call me on 07700 900000"},
        headers={"Authorization": f"Token {token}", "X-Request-ID": "request-0004", "X-Forwarded-For": "203.0.113.9"},
    )
    request.environ["HTTP_COOKIE"] = f"sessionid={session}; csrftoken=abcdefabcdef"

    status, headers = wsgi_answer(request.environ)

    assert status.startswith("500")
    assert headers["X-Request-ID"] == "request-0004"
    (event,) = sentry_transport.events()
    assert event["exception"]["values"][-1]["value"] == "the view failed"
    assert event["environment"] == "test"
    assert event["release"] == "lsis@test"
    assert event["user"] == {"id": str(user.pk)}
    request_data = event["request"]
    assert "data" not in request_data
    assert "cookies" not in request_data
    assert not {name.lower() for name in request_data["headers"]} & {"authorization", "cookie", "x-csrftoken"}
    assert request_data["url"].endswith("/test-logging/fail/")
    assert request_data["method"] == "POST"
    assert "page=2" in request_data["query_string"]
    assert request_data["headers"]["X-Request-Id"] == "request-0004"
    text = json.dumps(event)
    for secret in (token, token[:20], user.email, user.username, PASSWORD, "07700 900000", session, "203.0.113.9"):
        assert secret not in text


def test_an_error_in_a_view_of_an_anonymous_visitor_names_no_user(sentry_transport: CapturingTransport) -> None:
    sentry_sdk.capture_message("something happened")

    (event,) = sentry_transport.events()
    assert "user" not in event


def production_sentry_client(extra_env: dict[str, str]) -> dict[str, Any]:
    """Whether production settings initialise Sentry under ``extra_env``, and with which options."""
    script = (
        "import json, django, sentry_sdk; django.setup(); client = sentry_sdk.get_client(); "
        "options = getattr(client, 'options', {}); "
        "print(json.dumps({'active': client.is_active(), 'pii': client.should_send_default_pii(), "
        "'user_info': (options.get('data_collection') or {}).get('user_info'), "
        "'traces': options.get('traces_sample_rate'), 'environment': options.get('environment'), "
        "'release': options.get('release')}))"
    )
    env = {key: value for key, value in os.environ.items() if not key.startswith("SENTRY_") and key != "LOG_FORMAT"}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "lsis.settings.production",
            "SECRET_KEY": "test-only-not-secret-" + "x" * 40,
            "ALLOWED_HOSTS": "lsis.example.gov.uk",
            "DATABASE_URL": "sqlite:///:memory:",
            **extra_env,
        }
    )
    done = subprocess.run(  # noqa: S603 - our own interpreter
        [sys.executable, "-c", script],
        cwd=django_settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return dict(json.loads(done.stdout.splitlines()[-1]))


@pytest.mark.slow
def test_production_initialises_sentry_only_with_a_dsn() -> None:
    without = production_sentry_client({})
    with_dsn = production_sentry_client({"SENTRY_DSN": "https://public@sentry.invalid/1", "SENTRY_RELEASE": "abc123"})

    assert without == {
        "active": False,
        "pii": False,
        "user_info": None,
        "traces": None,
        "environment": None,
        "release": None,
    }
    assert with_dsn == {
        "active": True,
        "pii": False,
        "user_info": False,
        "traces": 0.0,
        "environment": "production",
        "release": "abc123",
    }


def test_the_test_settings_leave_sentry_uninitialised() -> None:
    assert not sentry_sdk.get_client().is_active()

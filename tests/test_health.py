"""The probes: /healthz (liveness) and /readyz (readiness), as a load balancer sees them (docs/health.md)."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.db import OperationalError, connections
from django.test import Client, override_settings
from django.utils import timezone

from lsis.core.heartbeats import job_heartbeat_record

SWEEP = "metrics.recompute_pending"
# Tasks run eagerly, in-process: no broker and no beat, so neither is checked.
EAGER = override_settings(CELERY_BROKER_URL="", CELERY_TASK_ALWAYS_EAGER=True)
# A broker that needs no server (kombu's in-memory transport): the broker check passes, the sweep is checked.
WITH_BROKER = override_settings(CELERY_BROKER_URL="memory://", CELERY_TASK_ALWAYS_EAGER=False)
# A password, a host name and a port no one listens on: none of them may reach the answer.
CLOSED_BROKER = "redis://:broker-secret@127.0.0.1:1/0"


@pytest.fixture(autouse=True)
def _long_running(monkeypatch: pytest.MonkeyPatch) -> None:
    """A process started long ago, past the grace a new one gives the first sweep."""
    monkeypatch.setattr("lsis.core.health.PROCESS_STARTED", timezone.now() - timedelta(days=1))


def _no_cookies(response: Any) -> None:
    assert not response.cookies
    assert "Set-Cookie" not in response.headers


def _not_kept(response: Any) -> None:
    assert "no-store" in response["Cache-Control"]


# --- liveness ----------------------------------------------------------------------------------------------


def test_liveness_answers_without_touching_the_database(db: Any, django_assert_num_queries: Any) -> None:
    with django_assert_num_queries(0):
        response = Client().get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    _not_kept(response)
    _no_cookies(response)


def test_liveness_answers_where_the_database_may_not_be_used() -> None:
    # No database here: any access would fail the request (pytest-django refuses it).
    assert Client().get("/healthz").status_code == 200


# --- readiness ---------------------------------------------------------------------------------------------


@EAGER
def test_readiness_without_a_broker_checks_the_database_and_the_cache(db: Any, django_assert_num_queries: Any) -> None:
    with django_assert_num_queries(1):
        response = Client().get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "pass", "cache": "pass"}}
    _not_kept(response)
    _no_cookies(response)


@WITH_BROKER
def test_readiness_with_a_broker_and_a_recent_sweep(db: Any, django_assert_num_queries: Any) -> None:
    job_heartbeat_record(name=SWEEP)
    with django_assert_num_queries(2):  # SELECT 1, and the sweep's heartbeat
        response = Client().get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"] == {"database": "pass", "cache": "pass", "broker": "pass", "sweep": "pass"}


@EAGER
def test_readiness_fails_when_the_database_does(
    db: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def unreachable(*args: Any, **kwargs: Any) -> Any:
        raise OperationalError('could not connect to server: host "db-secret.internal" refused')

    monkeypatch.setattr(connections["default"], "temporary_connection", unreachable)
    with caplog.at_level(logging.WARNING, logger="lsis.core.health"):
        response = Client().get("/readyz")
    assert response.status_code == 503
    assert response.json() == {"status": "fail", "checks": {"database": "fail", "cache": "pass"}}
    assert b"db-secret" not in response.content
    assert b"connect" not in response.content
    assert "db-secret.internal" in caplog.text  # the detail goes to the log


@EAGER
def test_readiness_fails_when_the_cache_does(db: Any) -> None:
    # A Redis cache on a port no one listens on: the round trip fails.
    unreachable = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CLOSED_BROKER}}
    with override_settings(CACHES=unreachable):
        response = Client().get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["cache"] == "fail"
    assert response.json()["checks"]["database"] == "pass"
    assert b"127.0.0.1" not in response.content
    assert b"broker-secret" not in response.content


@EAGER
def test_readiness_fails_when_the_cache_loses_what_it_is_given(db: Any) -> None:
    with override_settings(CACHES={"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}):
        response = Client().get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["cache"] == "fail"


@override_settings(CELERY_BROKER_URL=CLOSED_BROKER, CELERY_TASK_ALWAYS_EAGER=False)
def test_readiness_fails_when_the_broker_is_unreachable(db: Any, caplog: pytest.LogCaptureFixture) -> None:
    job_heartbeat_record(name=SWEEP)
    with caplog.at_level(logging.WARNING, logger="lsis.core.health"):
        response = Client().get("/readyz")
    assert response.status_code == 503
    assert response.json() == {
        "status": "fail",
        "checks": {"database": "pass", "cache": "pass", "broker": "fail", "sweep": "pass"},
    }
    for secret in (b"broker-secret", b"127.0.0.1", b"refused", b"redis"):
        assert secret not in response.content
    assert "Connection refused" in caplog.text


@WITH_BROKER
def test_readiness_fails_when_the_sweep_never_succeeded(db: Any) -> None:
    response = Client().get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"] == {"database": "pass", "cache": "pass", "broker": "pass", "sweep": "fail"}


@WITH_BROKER
@override_settings(HEALTH_SWEEP_WINDOW_SECONDS=120)
def test_a_new_process_waits_one_window_for_the_first_sweep(db: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A first deploy: no sweep has run yet, and beat sends the first a minute after it starts."""
    started = timezone.now()
    monkeypatch.setattr("lsis.core.health.PROCESS_STARTED", started)
    with time_machine.travel(started + timedelta(seconds=119), tick=False):
        assert Client().get("/readyz").status_code == 200
    with time_machine.travel(started + timedelta(seconds=121), tick=False):
        assert Client().get("/readyz").json()["checks"]["sweep"] == "fail"


@WITH_BROKER
@override_settings(HEALTH_SWEEP_WINDOW_SECONDS=120)
def test_readiness_fails_once_the_sweep_is_older_than_its_window(db: Any) -> None:
    job_heartbeat_record(name=SWEEP)
    now = timezone.now()
    with time_machine.travel(now + timedelta(seconds=119), tick=False):
        assert Client().get("/readyz").status_code == 200
    with time_machine.travel(now + timedelta(seconds=121), tick=False):
        response = Client().get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["sweep"] == "fail"


@WITH_BROKER
def test_the_sweep_task_records_the_heartbeat_readiness_reads(db: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from metrics import tasks

    # What the sweep computes is tested elsewhere; here, only that a run ends with its heartbeat.
    monkeypatch.setattr(tasks, "markers_process", lambda: 0)
    tasks.recompute_pending()
    tasks.recompute_pending()  # twice is as safe as once
    assert Client().get("/readyz").json()["checks"]["sweep"] == "pass"


@WITH_BROKER
def test_a_failed_sweep_records_no_heartbeat(db: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from metrics import tasks

    def fails() -> int:
        raise RuntimeError("the sweep failed")

    monkeypatch.setattr(tasks, "markers_process", fails)
    with pytest.raises(RuntimeError):
        tasks.recompute_pending()
    assert Client().get("/readyz").json()["checks"]["sweep"] == "fail"


def test_the_heartbeat_moves_neither_the_data_stamp_nor_the_change_feed(
    db: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from lsis.core.changes import data_stamp
    from lsis.core.models import FeedPending

    before, pending = data_stamp(), FeedPending.objects.count()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        job_heartbeat_record(name=SWEEP)
        job_heartbeat_record(name=SWEEP)
    assert callbacks == []
    assert data_stamp() == before
    assert FeedPending.objects.count() == pending


# --- what either probe is spared ---------------------------------------------------------------------------


@EAGER
@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_a_probe_by_address_is_answered_though_the_host_is_not_allowed(db: Any, path: str) -> None:
    by_address = Client(HTTP_HOST="10.0.3.7")
    assert by_address.get(path).status_code == 200
    assert by_address.get("/help/").status_code == 400  # every other page still refuses the host


@EAGER
@override_settings(SECURE_SSL_REDIRECT=True)
@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_a_probe_over_http_is_not_redirected_to_https(db: Any, path: str) -> None:
    assert Client().get(path).status_code == 200
    assert Client().get("/help/").status_code == 301


@EAGER
@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_probes_answer_get_and_head_only(db: Any, path: str) -> None:
    client = Client()
    head = client.head(path)
    assert head.status_code == 200
    assert head.content == b""
    for method in (client.post, client.put, client.patch, client.delete, client.options):
        refused = method(path)
        assert refused.status_code == 405
        assert refused["Allow"] == "GET, HEAD"


@EAGER
def test_probes_are_not_throttled(db: Any) -> None:
    strict = {"read": "1/minute", "export": "1/minute", "write": "1/minute", "proposal": "1/minute"}
    from django.conf import settings

    with override_settings(REST_FRAMEWORK={**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": strict}):
        client = Client()
        assert [client.get("/readyz").status_code for _ in range(3)] == [200, 200, 200]
        assert [client.get("/healthz").status_code for _ in range(3)] == [200, 200, 200]


@EAGER
def test_a_signed_in_probe_gets_no_session_cookie(db: Any, client_for: Any) -> None:
    client = client_for(None)
    response = client.get("/readyz")
    assert response.status_code == 200
    _no_cookies(response)

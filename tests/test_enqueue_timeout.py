"""Enqueueing after commit never holds up a request: a broker that accepts connections but never answers.

Such a broker (a hung Redis, a half-open connection behind a firewall) is worse than a dead one: a dead
one refuses the connection at once, a silent one lets every command wait for its reply. Approvals ask
for a recompute of the figures once they commit; that request must give up within
``CELERY_ENQUEUE_TIMEOUT_SECONDS``, log why, and leave the outbox markers to the periodic sweep.

The broker here is a TCP server of the test's own on 127.0.0.1, so the tests need no Redis and run on
SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from datetime import date
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.urls import reverse

from commitments import roles
from commitments.models import Commitment, StatusUpdate, UpdateState
from commitments.services import update_approve, update_create, update_submit
from lsis.celery import app
from metrics.models import RecomputeMarker
from metrics.tasks import recompute_pending

pytestmark = pytest.mark.django_db

AS_OF = date(2019, 6, 30)
WARNING = "Could not enqueue a metrics recompute"


class SilentServer:
    """Accepts TCP connections on 127.0.0.1 and never sends a byte; counts the connections."""

    def __init__(self) -> None:
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self._listener.settimeout(0.05)
        self.port: int = self._listener.getsockname()[1]
        self.accepted: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="silent-broker", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.accepted.append(connection)  # held open, never answered

    def close(self) -> None:
        """Stop accepting, and close every connection and the listening socket."""
        self._stop.set()
        self._thread.join(timeout=5)
        for connection in self.accepted:
            connection.close()
        self._listener.close()


@pytest.fixture
def silent_broker(settings: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[SilentServer]:
    """Celery not eager, its broker a silent server; the app's configuration is put back afterwards."""
    server = SilentServer()
    url = f"redis://127.0.0.1:{server.port}/0"
    overrides = {"broker_url": url, "task_always_eager": False}
    # The app reads Django's settings live, under its own changes: put those back exactly as they were.
    changes = app.conf.changes
    assert changes is not None, "a configured app keeps its changes"
    saved = {key: changes[key] for key in overrides if key in changes}
    settings.CELERY_BROKER_URL = url
    settings.CELERY_TASK_ALWAYS_EAGER = False
    # Celery reads CELERY_BROKER_URL from the environment before its configuration (CI sets it).
    monkeypatch.setenv("CELERY_BROKER_URL", url)
    app.conf.update(overrides)
    try:
        connection = app.connection_for_write()
        if (connection.hostname, connection.port) != ("127.0.0.1", server.port):
            raise RuntimeError(f"Celery would publish to {connection.as_uri()}, not to {url}")
        yield server
    finally:
        for key in overrides:
            changes.pop(key, None)
        app.conf.update(saved)
        server.close()


@pytest.fixture
def submitted(user_with_role: Callable[..., Any]) -> Callable[[int], list[StatusUpdate]]:
    """``count`` submitted updates by an editor, each of its own commitment."""

    def make(count: int) -> list[StatusUpdate]:
        editor = user_with_role(roles.EDITOR)
        commitments = Commitment.objects.filter(deal__published_on__lte=AS_OF).order_by("pk")[:count]
        updates = []
        for commitment in commitments:
            update = update_create(
                commitment=commitment, author=editor, as_of=AS_OF, status="delivered", narrative="Delivered."
            )
            updates.append(update_submit(update=update, user=editor))
        assert len(updates) == count
        return updates

    return make


def _left_for_the_sweep(updates: list[StatusUpdate]) -> set[int]:
    return set(RecomputeMarker.objects.values_list("commitment_id", flat=True)) & {u.commitment_id for u in updates}


def test_a_bulk_approval_does_not_wait_on_a_silent_broker(
    silent_broker: SilentServer,
    submitted: Callable[[int], list[StatusUpdate]],
    user_with_role: Callable[..., Any],
    client: Any,
    django_capture_on_commit_callbacks: Any,
    caplog: Any,
) -> None:
    assert django_settings.CELERY_ENQUEUE_TIMEOUT_SECONDS <= 1
    updates = submitted(7)
    client.force_login(user_with_role(roles.REVIEWER))
    data = {"action": "approve_selected", "_selected_action": [u.pk for u in updates], "confirm": "yes"}

    started = time.monotonic()
    # The request commits, then its on-commit callbacks run, as they would before the answer is sent.
    with caplog.at_level(logging.WARNING, logger="metrics.services"), django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("admin:commitments_statusupdate_changelist"), data)
    elapsed = time.monotonic() - started

    assert response.status_code == 302
    assert elapsed < 3, f"approving 7 updates took {elapsed:.2f} s with a silent broker"
    assert silent_broker.accepted, "the broker was never asked"
    # One enqueue for the whole request, refused in time, logged, not raised.
    assert caplog.text.count(WARNING) == 1
    assert set(StatusUpdate.objects.filter(pk__in=[u.pk for u in updates]).values_list("state", flat=True)) == {
        UpdateState.APPROVED
    }
    assert _left_for_the_sweep(updates) == {u.commitment_id for u in updates}

    # The periodic sweep (the beat job) runs the same task and takes them all.
    assert django_settings.CELERY_BEAT_SCHEDULE["metrics-sweep-every-minute"]["task"] == recompute_pending.name
    assert recompute_pending.apply().get() == 7
    assert _left_for_the_sweep(updates) == set()


def test_each_approval_gives_up_on_the_broker_after_the_configured_time(
    silent_broker: SilentServer,
    submitted: Callable[[int], list[StatusUpdate]],
    user_with_role: Callable[..., Any],
    settings: Any,
    commit: Callable[[], None],
    caplog: Any,
) -> None:
    settings.CELERY_ENQUEUE_TIMEOUT_SECONDS = 0.2
    reviewer = user_with_role(roles.REVIEWER)
    updates = submitted(3)
    commit()
    timings = []
    with caplog.at_level(logging.WARNING, logger="metrics.services"):
        for update in updates:
            started = time.monotonic()
            update_approve(update=update, reviewer=reviewer)
            commit()  # one committed transaction per approval, as one request each
            timings.append(time.monotonic() - started)
    assert max(timings) < 1, f"approvals took {[round(t, 2) for t in timings]} s with a silent broker"
    assert len(silent_broker.accepted) >= len(updates)
    assert caplog.text.count(WARNING) == len(updates)
    assert all(StatusUpdate.objects.get(pk=u.pk).state == UpdateState.APPROVED for u in updates)
    assert _left_for_the_sweep(updates) == {u.commitment_id for u in updates}

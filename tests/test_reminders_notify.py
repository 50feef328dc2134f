"""Reminders through GOV.UK Notify: a local fake of Notify's HTTP API records what the backend sends and answers
with notification ids and statuses, as ``NOTIFY_BASE_URL`` would point the client at Notify itself.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import StringIO
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command

from commitments import roles
from lsis.core.models import Message, MessageStatus
from metrics.tasks import poll_notify_statuses
from metrics.update_cycle import Cycle
from tests.factories import UserFactory
from tests.helpers import owners_assign
from tests.test_reminders import DUE, QUARTER, eager  # noqa: F401 (a fixture)

SERVICE_ID, SECRET = str(uuid.uuid4()), str(uuid.uuid4())
TEMPLATE_ID = str(uuid.uuid4())


@dataclass
class FakeNotify:
    """What the fake received, and what it answers: a notification's status by id; addresses it refuses."""

    url: str = ""
    sent: list[dict[str, Any]] = field(default_factory=list)
    polled: list[str] = field(default_factory=list)
    statuses: dict[str, str] = field(default_factory=dict)
    refused: set[str] = field(default_factory=set)


def _handler(fake: FakeNotify) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _answer(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            payload = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            if self.path != "/v2/notifications/email" or not self.headers.get("Authorization", "").startswith(
                "Bearer "
            ):
                self._answer(404, {"errors": [{"error": "NotFound"}]})
                return
            if payload["email_address"] in fake.refused:
                self._answer(400, {"status_code": 400, "errors": [{"error": "BadRequestError", "message": "Bad"}]})
                return
            notification_id = str(uuid.uuid4())
            fake.sent.append({**payload, "id": notification_id})
            fake.statuses[notification_id] = "sending"
            self._answer(201, {"id": notification_id, "reference": None, "content": {}, "template": {}})

        def do_GET(self) -> None:
            notification_id = self.path.rsplit("/", 1)[-1]
            if not self.path.startswith("/v2/notifications/") or notification_id not in fake.statuses:
                self._answer(404, {"status_code": 404, "errors": [{"error": "NoResultFound"}]})
                return
            fake.polled.append(notification_id)
            self._answer(200, {"id": notification_id, "status": fake.statuses[notification_id]})

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet."""

    return Handler


@pytest.fixture
def notify(settings: Any) -> Iterator[FakeNotify]:
    """The fake Notify on a free port of 127.0.0.1, and the project's Notify settings pointed at it."""
    fake = FakeNotify()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    settings.EMAIL_BACKEND = "lsis.core.notify.NotifyDigestBackend"
    settings.NOTIFY_API_KEY = f"lsis_test-{SERVICE_ID}-{SECRET}"  # Notify's format: name-<service>-<secret>
    settings.NOTIFY_BASE_URL = fake.url
    settings.NOTIFY_TEMPLATE_IDS = {"digest": TEMPLATE_ID}
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()


def _owner(**extra: Any) -> Any:
    user = UserFactory.create(is_staff=True, **extra)
    user.groups.add(Group.objects.get(name=roles.EDITOR))
    return user


@pytest.mark.django_db
@pytest.mark.usefixtures("eager")
def test_digests_go_through_notify_and_its_statuses_are_recorded_and_shown_in_the_admin(
    notify: FakeNotify, django_capture_on_commit_callbacks: Any, client_for: Any, caplog: Any
) -> None:
    delivered_to, bounced_to = _owner(first_name="Dora"), _owner(first_name="Bo")
    first, second = Cycle.for_quarter(QUARTER).outstanding().order_by("reference")[:2]
    owners_assign(delivered_to, [first])
    owners_assign(bounced_to, [second])

    with django_capture_on_commit_callbacks(execute=True):
        call_command("send_reminders", "--date", DUE.isoformat(), stdout=StringIO())

    assert sorted(request["email_address"] for request in notify.sent) == sorted([delivered_to.email, bounced_to.email])
    request = next(request for request in notify.sent if request["email_address"] == delivered_to.email)
    assert request["template_id"] == TEMPLATE_ID
    assert set(request["personalisation"]) == {"subject", "body"}
    assert (
        request["personalisation"]["subject"]
        == f"LSIS Tracker: Your {QUARTER.label} updates are due today, 14 October 2026"
    )
    assert request["personalisation"]["body"].startswith("Dear Dora")
    assert f"/commitments/{first.reference}/" in request["personalisation"]["body"]
    delivered = Message.objects.get(recipient=delivered_to)
    bounced = Message.objects.get(recipient=bounced_to)
    assert delivered.provider_reference == request["id"]
    assert delivered.status == bounced.status == MessageStatus.SENT

    notify.statuses[delivered.provider_reference] = "delivered"
    notify.statuses[bounced.provider_reference] = "permanent-failure"
    assert poll_notify_statuses.run() == 2
    delivered.refresh_from_db()
    bounced.refresh_from_db()
    assert (delivered.status, delivered.provider_status) == (MessageStatus.DELIVERED, "delivered")
    assert (bounced.status, bounced.provider_status) == (MessageStatus.PERMANENT_FAILURE, "permanent-failure")
    assert f"Message {bounced.pk} to {bounced.address} failed at Notify: permanent-failure" in caplog.text
    assert poll_notify_statuses.run() == 0  # final statuses are not asked about again
    assert sorted(notify.polled) == sorted([delivered.provider_reference, bounced.provider_reference])

    # The permanent failure shows in the admin, filtered by status, to reviewers; editors may not look.
    page = client_for(roles.REVIEWER).get("/admin/core/message/?status__exact=permanent-failure")
    assert page.status_code == 200
    assert bounced.address in page.content.decode()
    assert delivered.address not in page.content.decode()
    assert client_for(roles.EDITOR).get("/admin/core/message/").status_code == 403


@pytest.mark.django_db
@pytest.mark.usefixtures("eager")
def test_an_address_notify_refuses_is_a_permanent_failure(
    notify: FakeNotify, django_capture_on_commit_callbacks: Any
) -> None:
    owner = _owner(email="nobody@bad.example")
    notify.refused.add(owner.email)
    [commitment] = Cycle.for_quarter(QUARTER).outstanding().order_by("reference")[:1]
    owners_assign(owner, [commitment])

    with django_capture_on_commit_callbacks(execute=True):
        call_command("send_reminders", "--date", DUE.isoformat(), stdout=StringIO())
    message = Message.objects.get(recipient=owner)
    assert message.status == MessageStatus.PERMANENT_FAILURE
    assert "Notify refused the message" in message.error
    assert message.provider_reference == ""

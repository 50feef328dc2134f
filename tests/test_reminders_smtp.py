"""Reminders end to end over SMTP: a real SMTP server (aiosmtpd) on 127.0.0.1 receives what ``send_reminders`` sends.

Django's SMTP backend is pointed at it, as ``EMAIL_URL=smtp://127.0.0.1:<port>`` would point it in production.
A server that refuses a recipient for good (550) leaves the message a permanent failure, logged at ERROR.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from datetime import timedelta
from email import message_from_bytes
from email.message import Message as EmailMessage
from io import StringIO
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from django.contrib.auth.models import Group
from django.core.management import call_command

from commitments import roles
from lsis.core.messaging import MAX_ATTEMPTS
from lsis.core.models import Message, MessageStatus
from metrics.tasks import send_queued_messages
from metrics.update_cycle import Cycle
from tests.factories import UserFactory
from tests.helpers import owners_assign
from tests.test_reminders import CYCLE, DUE, QUARTER, eager  # noqa: F401 (a fixture)


class Collector:
    """An aiosmtpd handler keeping every envelope; it refuses recipients at ``refused.example`` for good, and
    those at ``busy.example`` for now."""

    def __init__(self) -> None:
        self.envelopes: list[Any] = []

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any) -> str:
        if address.endswith("@refused.example"):
            return "550 5.1.1 No such mailbox here"
        if address.endswith("@busy.example"):
            return "451 4.3.2 Try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def smtp(settings: Any) -> Iterator[Collector]:
    """An SMTP server on a free port of 127.0.0.1, and Django's SMTP backend pointed at it."""
    handler = Collector()
    port = _free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 10
    try:
        yield handler
    finally:
        controller.stop()


def _owner(**extra: Any) -> Any:
    user = UserFactory.create(is_staff=True, **extra)
    user.groups.add(Group.objects.get(name=roles.EDITOR))
    return user


def _parsed(envelope: Any) -> EmailMessage:
    return message_from_bytes(envelope.original_content or envelope.content)


@pytest.mark.django_db
@pytest.mark.usefixtures("eager")
def test_send_reminders_delivers_one_digest_per_person_over_smtp(
    smtp: Collector, django_capture_on_commit_callbacks: Any
) -> None:
    owners = [_owner(first_name="Ada"), _owner(first_name="Grace")]
    commitments = list(Cycle.for_quarter(QUARTER).outstanding().order_by("reference")[:3])
    owners_assign(owners[0], commitments[:2])
    owners_assign(owners[1], commitments[2:3])

    out = StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("send_reminders", "--date", DUE.isoformat(), stdout=out)
    assert "2 message(s) with 4 reminder(s) recorded" in out.getvalue()

    by_recipient = {tuple(envelope.rcpt_tos): envelope for envelope in smtp.envelopes}
    assert sorted(by_recipient) == sorted((owner.email,) for owner in owners)  # one each
    first = _parsed(by_recipient[(owners[0].email,)])
    assert first["Subject"] == f"LSIS Tracker: Your {QUARTER.label} updates are due today, 14 October 2026"
    payload = first.get_payload(decode=True)
    assert isinstance(payload, bytes)
    body = payload.decode()
    assert body.startswith("Dear Ada")
    assert f"/commitments/{commitments[0].reference}/" in body
    assert f"/commitments/{commitments[1].reference}/" in body
    assert commitments[2].reference not in body  # another's
    assert "/tasks/" in body
    assert Message.objects.filter(status=MessageStatus.SENT).count() == 2

    # Run again: nothing new is sent.
    with django_capture_on_commit_callbacks(execute=True):
        call_command("send_reminders", "--date", DUE.isoformat(), stdout=StringIO())
    assert len(smtp.envelopes) == 2


@pytest.mark.django_db
@pytest.mark.usefixtures("eager")
def test_a_recipient_the_server_refuses_for_good_is_a_permanent_failure(
    smtp: Collector, django_capture_on_commit_callbacks: Any, caplog: Any
) -> None:
    owner = _owner(email="gone@refused.example")
    [commitment] = Cycle.for_quarter(QUARTER).outstanding().order_by("reference")[:1]
    owners_assign(owner, [commitment])

    with caplog.at_level(logging.ERROR, logger="lsis.core.messaging"), django_capture_on_commit_callbacks(execute=True):
        call_command("send_reminders", "--date", (DUE + timedelta(days=1)).isoformat(), stdout=StringIO())
    message = Message.objects.get(recipient=owner)
    assert message.status == MessageStatus.PERMANENT_FAILURE
    assert message.attempts == 1
    assert "550" in message.error
    assert f"Message {message.pk} to gone@refused.example failed permanently" in caplog.text
    assert smtp.envelopes == []
    assert CYCLE.due_on == DUE


@pytest.mark.django_db
@pytest.mark.usefixtures("eager")
def test_a_message_that_keeps_failing_is_tried_again_then_given_up_on(
    smtp: Collector, django_capture_on_commit_callbacks: Any, caplog: Any
) -> None:
    owner = _owner(email="later@busy.example")
    [commitment] = Cycle.for_quarter(QUARTER).outstanding().order_by("reference")[:1]
    owners_assign(owner, [commitment])
    with django_capture_on_commit_callbacks(execute=True):
        call_command("send_reminders", "--date", DUE.isoformat(), stdout=StringIO())
    message = Message.objects.get(recipient=owner)
    assert (message.status, message.attempts) == (MessageStatus.FAILED, 1)
    assert "451" in message.error

    # The sweep tries it again each time it runs (once it is a few minutes old), up to the last attempt.
    Message.objects.filter(pk=message.pk).update(created_at=message.created_at - timedelta(minutes=10))
    with caplog.at_level(logging.WARNING, logger="lsis.core.messaging"):
        for attempt in range(2, MAX_ATTEMPTS + 1):
            assert send_queued_messages.run() == 1
            message.refresh_from_db()
            assert message.attempts == attempt
    assert message.status == MessageStatus.PERMANENT_FAILURE
    assert f"Message {message.pk} to later@busy.example failed permanently after {MAX_ATTEMPTS} attempt(s)" in (
        caplog.text
    )
    assert send_queued_messages.run() == 0  # given up on
    assert smtp.envelopes == []

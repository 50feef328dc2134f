"""A worker killed while it sends a reminder: the message is redelivered and sent once (PostgreSQL, Redis).

As ``tests/test_celery_reliability.py`` does, on the database of its own the real-worker tests share
(``live``): a worker of this test's own, on a Redis database of its own, with the e-mail going over SMTP to
a server in this process (aiosmtpd) that holds the first message's DATA unanswered. The worker's pool process
is killed there; acks_late and reject_on_worker_lost put the task back, a new pool process takes it, and the
message is sent. What the held connection carried was never acknowledged, so the client never sent it: the
server counts only what it answered.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import threading
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

from tests.celery_worker import (
    Stack,
    Worker,
    expect,
    manage,
    private_redis_url,
    query,
    send_task,
    task_line,
    wait_until,
)
from tests.test_celery_reliability import needs_real_worker

DELIVER_TASK = "metrics.deliver_message"
DAY = "2026-10-14"  # the due day of 2026-27 Q2's updates

SET_UP = """
import json
from django.contrib.auth import get_user_model
from commitments.models import Commitment
from commitments.periods import Quarter
from metrics.update_cycle import Cycle
from tests.helpers import owners_assign
owner = get_user_model().objects.create_user(
    username="reminded-owner", email="reminded-owner@example.gov.uk", is_staff=True
)
commitment = Cycle.for_quarter(Quarter(2026, 2)).outstanding().filter(owner__isnull=True).order_by("pk").first()
owners_assign(owner, [commitment])
print(json.dumps({"owner": owner.pk, "commitment": commitment.pk}))
"""


class HoldingSMTP:
    """Holds the first message's DATA until ``release``; accepts (and keeps) every later one."""

    def __init__(self) -> None:
        self.held = threading.Event()
        self.release = threading.Event()
        self.accepted: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if not self.held.is_set():
            self.held.set()
            while not self.release.is_set():
                await asyncio.sleep(0.05)
            return "451 4.3.0 Never answered: the client has gone"
        self.accepted.append(envelope)
        return "250 Message accepted for delivery"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@needs_real_worker
def test_a_worker_killed_while_sending_is_redelivered_and_the_message_sent_once(live: Stack, tmp_path: Path) -> None:
    import redis

    handler = HoldingSMTP()
    port = _free_port()
    smtp = Controller(handler, hostname="127.0.0.1", port=port)
    smtp.start()
    broker_url = private_redis_url(os.environ["CELERY_BROKER_URL"], spare=True)
    broker = redis.Redis.from_url(broker_url, socket_timeout=5, socket_connect_timeout=5)
    broker.flushdb()
    env = {
        **live.env,
        "CELERY_BROKER_URL": broker_url,
        # The local settings read EMAIL_URL (the test settings keep e-mail in memory, out of reach here).
        "DJANGO_SETTINGS_MODULE": "lsis.settings.local",
        "EMAIL_URL": f"smtp://127.0.0.1:{port}",
        "DEBUG": "false",
    }
    worker = Worker(env, tmp_path / "worker.log")
    conn = live.connect()
    made: dict[str, int] = {}
    try:
        worker.start()
        made = json.loads(manage(env, "shell", "-c", SET_UP).strip().splitlines()[-1])
        printed = manage(env, "send_reminders", "--date", DAY)
        assert "1 message(s) with 2 reminder(s) recorded, 1 handed on for delivery" in printed
        [(message_id,)] = query(conn, "SELECT id FROM core_message WHERE recipient_id = %s", [made["owner"]])

        received = worker.wait_for(task_line(DELIVER_TASK, None, "received"), timeout=60)
        wait_until(handler.held.is_set, timeout=60, what="the worker to be sending the message")
        children = worker.children()
        expect(len(children) == 1, f"expected one pool process, found {children}")
        os.kill(children[0], signal.SIGKILL)
        lost = worker.wait_for(r"WorkerLostError", after=received.end).end
        handler.release.set()
        assert query(conn, "SELECT status FROM core_message WHERE id = %s", [message_id]) == [("queued",)]

        # Redelivered, possibly tried again while the killed session's lock lingers, then sent.
        worker.wait_for(task_line(DELIVER_TASK, None, r"succeeded in [\d.]+s: 'sent'"), after=lost, timeout=120)
        assert query(conn, "SELECT status, attempts FROM core_message WHERE id = %s", [message_id]) == [("sent", 1)]
        assert [envelope.rcpt_tos for envelope in handler.accepted] == [["reminded-owner@example.gov.uk"]]
        assert b"2026-27 Q2" in handler.accepted[0].original_content

        # The sweep and a second run send nothing more.
        offset = len(worker.log())
        task_id = send_task(broker_url, "metrics.send_queued_messages")
        worker.wait_for(task_line("metrics.send_queued_messages", task_id, r"succeeded in [\d.]+s: 0"), after=offset)
        assert "0 message(s) with 0 reminder(s) recorded" in manage(env, "send_reminders", "--date", DAY)
        assert len(handler.accepted) == 1
    finally:
        handler.release.set()
        worker.stop()
        smtp.stop()
        broker.flushdb()
        broker.close()
        if made:  # the database is shared with the other real-worker tests
            query(conn, "DELETE FROM core_reminder WHERE recipient_id = %s", [made["owner"]])
            query(conn, "DELETE FROM core_message WHERE recipient_id = %s", [made["owner"]])
            query(conn, "UPDATE commitments_commitment SET owner_id = NULL WHERE id = %s", [made["commitment"]])
            query(conn, "DELETE FROM auth_user WHERE id = %s", [made["owner"]])
        conn.close()

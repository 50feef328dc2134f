"""Shared test fixtures: the database is seeded once per run with the real Sector Deal data."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.models import Group
from django.core.cache import cache
from django.db import transaction
from django.test import Client
from rest_framework.test import APIClient

from commitments import roles
from commitments.models import Commitment, StatusUpdate
from commitments.services import update_create, update_submit
from lsis.api.tokens import api_token_issue
from metrics.seeding import seed_reference_data
from metrics.services import metrics_recompute
from tests.celery_worker import (
    MARKER_TASK,
    Database,
    Stack,
    Worker,
    expect,
    manage,
    pending_markers,
    private_redis_url,
    send_task,
    task_line,
)
from tests.factories import UserFactory
from tests.helpers import ANONYMOUS

#: Fixtures that empty every table when their test ends (pytest-django's flush), which would take the data
#: seeded once per run from every test after it in the same process.
_FLUSHING_FIXTURES = frozenset(
    {"transactional_db", "live_server", "django_db_reset_sequences", "django_db_serialized_rollback"}
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Refuse a test that would flush the seeded database; a server of its own, or the test's connection, serves."""
    flushing = [
        item.nodeid
        for item in items
        if _FLUSHING_FIXTURES & set(getattr(item, "fixturenames", ()))
        or any(marker.kwargs.get("transaction") for marker in item.iter_markers("django_db"))
    ]
    if flushing:
        raise pytest.UsageError(
            "These tests would empty the database seeded for the whole run when they end (a transactional "
            "database or live_server): " + ", ".join(flushing)
        )


@pytest.fixture(autouse=True)
def _settings_left_as_found() -> Iterator[None]:
    """Fail a test that leaves settings overridden after it ends.

    Such a leak changes every later test in the same process, which the random order makes fail only
    sometimes and far from its cause: ``@override_settings`` together with the ``settings`` fixture on one
    test restored them in the wrong order and left a raised failed-token limit behind.
    """
    # The settings object in force: override_settings swaps it for another and puts it back when it ends.
    found = settings.__dict__["_wrapped"]
    yield
    if settings.__dict__["_wrapped"] is not found:
        settings.__dict__["_wrapped"] = found
        pytest.fail("this test left settings overridden after it ended; use one way to override them", pytrace=False)


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup: Any, django_db_blocker: Any) -> None:
    """Seed the test database once; each test then runs in a transaction that is rolled back."""
    with django_db_blocker.unblock():
        seed_reference_data(fixtures_dir=settings.FIXTURES_DIR)


@pytest.fixture
def every_quarter_computed(db: Any) -> None:
    """Every quarter's figures up to today, computed once for all the examples of a property test.

    Each example rolls back to them. A marker reaches every quarter from its date to today: without rows, an
    example's edits would have each of those quarters computed in full, in every example; with them, the edits
    reach them through the incremental path, as in the application, where every quarter has its figures.
    """
    metrics_recompute()


@pytest.fixture
def user_with_role(db: Any) -> Callable[..., Any]:
    """Make a user holding one role (or a superuser for role=None)."""

    def make(role: str | None, **extra: Any) -> Any:
        if role is None:
            return UserFactory.create(is_staff=True, is_superuser=True, **extra)
        user = UserFactory.create(is_staff=role in roles.STAFF_ROLES, **extra)
        user.groups.add(Group.objects.get(name=role))
        return user

    return make


@pytest.fixture
def client_for(user_with_role: Callable[..., Any]) -> Callable[..., Client]:
    """A test client signed in as a new user holding ``role``."""

    def make(role: str | None) -> Client:
        client = Client()
        client.force_login(user_with_role(role))
        return client

    return make


@pytest.fixture
def commit() -> Callable[[], None]:
    """Run what runs when a transaction commits (``on_commit`` callbacks registered so far).

    A test runs inside a transaction that is never committed, so the data stamp, which moves after
    commit, would never move; calling this is the commit a request would end with.
    """

    def run_callbacks() -> None:
        connection = transaction.get_connection()
        pending, connection.run_on_commit = connection.run_on_commit, []
        for _, callback, _ in pending:
            callback()

    return run_callbacks


@pytest.fixture
def fresh_cache() -> Iterator[None]:
    """Request counts, failed-token counts and kept answers never carry over from one test to the next."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def api_as() -> Callable[[Any], APIClient]:
    """An API client sending a token issued to ``user``."""

    def make(user: Any) -> APIClient:
        _, token = api_token_issue(user=user, expires_in=None)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        return client

    return make


@pytest.fixture
def token_for(user_with_role: Callable[..., Any]) -> Callable[..., str]:
    """Issue a token to a new user holding ``role``."""

    def make(role: str, **user_fields: Any) -> str:
        _, token = api_token_issue(user=user_with_role(role, **user_fields), expires_in=None)
        return token

    return make


@pytest.fixture
def api_for(token_for: Callable[..., str]) -> Callable[[str], APIClient]:
    """An API client sending a token for a new user holding ``role`` (none for ``ANONYMOUS``)."""

    def make(role: str) -> APIClient:
        client = APIClient()
        if role != ANONYMOUS:
            client.credentials(HTTP_AUTHORIZATION=f"Token {token_for(role)}")
        return client

    return make


@pytest.fixture
def draft_by_colleague(user_with_role: Callable[..., Any]) -> Callable[..., StatusUpdate]:
    """A status update by another editor, as a draft or submitted."""

    def make(*, submitted: bool, reference: str = "SD2-PEOPLE-G3") -> StatusUpdate:
        author = user_with_role(roles.EDITOR)
        update = update_create(
            commitment=Commitment.objects.get(reference=reference),
            author=author,
            as_of=date(2019, 6, 30),
            status="in_progress",
            confidence="amber",
            narrative="Written by a colleague.",
        )
        return update_submit(update=update, user=author) if submitted else update

    return make


# --- a real worker, on PostgreSQL and Redis (tests/celery_worker.py) ---------------------------------------


@pytest.fixture(scope="session")
def stack(tmp_path_factory: Any) -> Iterator[Stack]:
    """A database of its own, migrated, seeded and with its figures, a Redis database of its own, and a worker on both.

    Once per test process (one per core in a parallel run, each with Redis databases of its own:
    ``private_redis_url``), for every real-worker test (tests/test_celery_reliability.py,
    tests/test_edits_reach_figures.py, tests/test_reminders_worker.py): creating, seeding and starting them
    takes several seconds. The tests share it as they commit to it: each reads the state it starts from
    (``live``) rather than assuming a fresh one.
    """
    database = Database(os.environ["DATABASE_URL"], f"lsis_celery_{os.getpid()}")
    broker_url = private_redis_url(os.environ["CELERY_BROKER_URL"])
    env = {
        **os.environ,
        "DATABASE_URL": database.url,
        "CELERY_BROKER_URL": broker_url,
        "DJANGO_SETTINGS_MODULE": "lsis.settings.test",
    }
    log_path = Path(tmp_path_factory.mktemp("celery")) / "worker.log"
    worker = Worker(env, log_path)

    import redis

    broker = redis.Redis.from_url(broker_url, socket_timeout=5, socket_connect_timeout=5)
    broker.flushdb()
    database.drop()
    try:
        database.create()
        manage(env, "migrate", "--no-input")
        manage(env, "seed")
        manage(env, "recompute_metrics")
        worker.start()
        yield Stack(database, broker_url, env, worker)
    finally:
        try:
            worker.stop()
        finally:
            database.drop()
            broker.flushdb()
            broker.close()


@pytest.fixture
def live(stack: Stack) -> Stack:
    """The stack, with its worker up and no marker pending (another test may have left one for the sweep)."""
    expect(stack.worker.alive(), f"the worker has exited:\n{stack.worker.log()}")
    conn = stack.connect()
    try:
        if pending_markers(conn):
            offset = len(stack.worker.log())
            task_id = send_task(stack.broker_url, MARKER_TASK)
            stack.worker.wait_for(task_line(MARKER_TASK, task_id, "succeeded"), after=offset, timeout=120)
        expect(pending_markers(conn) == 0, "the sweep left markers pending")
    finally:
        conn.close()
    return stack

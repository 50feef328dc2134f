"""Shared test fixtures: the database is seeded once per run with the real Sector Deal data."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.models import Group
from django.db import transaction
from django.test import Client

from commitments import roles
from metrics.seeding import seed_reference_data
from tests.factories import UserFactory


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup: Any, django_db_blocker: Any) -> None:
    """Seed the test database once; each test then runs in a transaction that is rolled back."""
    with django_db_blocker.unblock():
        seed_reference_data(fixtures_dir=settings.FIXTURES_DIR)


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

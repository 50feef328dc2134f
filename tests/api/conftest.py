"""Fixtures of the API tests: clients holding a token for each role, and a clean throttle cache."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date
from typing import Any

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from commitments import roles
from commitments.models import Commitment, StatusUpdate
from commitments.services import commitment_set_published, update_create, update_submit
from lsis.api.tokens import api_token_issue

ANONYMOUS = "anonymous"
API_ROLES = [ANONYMOUS, roles.PARTNER, roles.BOARD_MEMBER, roles.EDITOR, roles.REVIEWER]


@pytest.fixture(autouse=True)
def _fresh_throttles() -> Iterator[None]:
    """Request counts and failed-token counts never carry over from one test to the next."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def token_for(user_with_role: Callable[..., Any]) -> Callable[..., str]:
    """Issue a token to a new user holding ``role``."""

    def make(role: str, **user_fields: Any) -> str:
        _, token = api_token_issue(user=user_with_role(role, **user_fields), expires_in=None)
        return token

    return make


@pytest.fixture
def api_for(token_for: Callable[..., str]) -> Callable[[str], APIClient]:
    """An API client sending a token for a new user holding ``role`` (none for anonymous)."""

    def make(role: str) -> APIClient:
        client = APIClient()
        if role != ANONYMOUS:
            client.credentials(HTTP_AUTHORIZATION=f"Token {token_for(role)}")
        return client

    return make


@pytest.fixture
def unpublished(user_with_role: Callable[..., Any]) -> Commitment:
    """A seeded commitment a reviewer has withdrawn from partners."""
    return commitment_set_published(
        commitment=Commitment.objects.get(reference="SD2-PEOPLE-G4"),
        user=user_with_role(roles.REVIEWER),
        published=False,
    )


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


@pytest.fixture
def quarterly_figures() -> list[Any]:
    """The stored figures of 2019-20 Q1 for every scope, as the metrics app computes them."""
    from django.utils import timezone

    from commitments.periods import Quarter
    from metrics.models import QuarterMetric, ReportingQuarter
    from metrics.services import figures_for

    quarter = Quarter(2019, 1)
    reporting, _ = ReportingQuarter.objects.get_or_create(year=quarter.year, number=quarter.number)
    rows = [
        QuarterMetric(
            quarter=reporting,
            scope_type=figures.scope_type,
            scope_key=figures.scope_key,
            scope_label=figures.scope_label,
            commitments=figures.commitments,
            delivered=figures.delivered,
            in_progress=figures.in_progress,
            computed_at=timezone.now(),
        )
        for figures in figures_for(quarter)
    ]
    return QuarterMetric.objects.bulk_create(rows)

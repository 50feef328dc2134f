"""Fixtures of the API tests: a clean throttle cache, and a withdrawn commitment.

The token clients (``api_for``, ``token_for``, ``api_as``) and ``draft_by_colleague`` are in tests/conftest.py,
shared with the tests outside this folder that call the API.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from commitments import roles
from commitments.models import Commitment
from commitments.services import commitment_set_published
from tests.helpers import ANONYMOUS

API_ROLES = [ANONYMOUS, roles.PARTNER, roles.BOARD_MEMBER, roles.EDITOR, roles.REVIEWER]


@pytest.fixture(autouse=True)
def _fresh_throttles(fresh_cache: None) -> None:
    """Request counts and failed-token counts never carry over from one test to the next."""


@pytest.fixture
def unpublished(user_with_role: Callable[..., Any]) -> Commitment:
    """A seeded commitment a reviewer has withdrawn from partners."""
    return commitment_set_published(
        commitment=Commitment.objects.get(reference="SD2-PEOPLE-G4"),
        user=user_with_role(roles.REVIEWER),
        published=False,
    )


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
            population=figures.population,
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

"""Typed helpers the tests share: the row a test needs, the body of a streamed answer, the anonymous role, and
the mark of a test that uses a SQLite database of its own."""

from __future__ import annotations

from datetime import date
from typing import Any, TypeVar

import pytest
from django.conf import settings
from django.db.models import Model, QuerySet
from django.http import HttpResponseBase, StreamingHttpResponse

from commitments.delivery_plan import milestone_create, milestone_edit
from commitments.models import Commitment, Milestone

M = TypeVar("M", bound=Model)

# The role of no one signed in, for ``api_for``.
ANONYMOUS = "anonymous"
#: The body of a valid draft status update, as an editor posts it to ``/api/v1/updates/``.
DRAFT_UPDATE = {
    "commitment": "SD2-IDEAS-HARP-G1",
    "as_of": "2020-03-31",
    "status": "in_progress",
    "confidence": "amber_green",
    "narrative": "Recruitment is complete.",
}

# A test that serves or fills a SQLite database of its own checks the same thing whatever the suite's database.
# CI runs the suite on PostgreSQL, then on SQLite: such a test runs once, in the SQLite run
# (``DATABASE_URL= pytest <file>`` runs it anywhere).
SUITE_ON_POSTGRESQL = settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
own_sqlite_database = pytest.mark.skipif(
    SUITE_ON_POSTGRESQL,
    reason="uses a SQLite database of its own whatever the suite's database: it runs in the SQLite run, not twice",
)


def first(queryset: QuerySet[M]) -> M:
    """The first row of ``queryset``, which the test needs: a missing one fails here, saying which."""
    row = queryset.first()
    assert row is not None, f"no {queryset.model.__name__} matches {queryset.query}"
    return row


def streamed(response: HttpResponseBase) -> bytes:
    """The body of an answer that is streamed (an export), read to the end."""
    assert isinstance(response, StreamingHttpResponse), f"not streamed: {type(response).__name__}"
    return b"".join(response)


def milestone_write(
    *,
    commitment: Commitment,
    due_on: date,
    user: Any,
    done_on: date | None = None,
    milestone: Milestone | None = None,
    title: str = "A milestone",
) -> Milestone:
    """Add a milestone to ``commitment`` (or move ``milestone``) through the milestone services, as ``user``."""
    if milestone is None:
        return milestone_create(commitment=commitment, title=title, due_on=due_on, done_on=done_on, user=user)
    return milestone_edit(milestone=milestone, user=user, changes={"due_on": due_on, "done_on": done_on})


def owners_assign(owner: Any, commitments: Any) -> None:
    """Make ``owner`` (staff, or None) the owner of ``commitments`` (a queryset or a list), as a reviewer would."""
    from django.contrib.auth import get_user_model

    from commitments.models import Commitment as CommitmentModel
    from commitments.ownership import commitment_assign_owners

    assigner, _ = get_user_model().objects.get_or_create(
        username="owners-assigner", defaults={"is_staff": True, "is_superuser": True}
    )
    if not isinstance(commitments, QuerySet):
        commitments = CommitmentModel.objects.filter(pk__in=[commitment.pk for commitment in commitments])
    commitment_assign_owners(commitments=commitments, owner=owner, user=assigner)


def correct_text(reference: str, text: str) -> Any:
    """A commitment's text corrected through the service, by a superuser (a correction a reviewer would make)."""
    from django.contrib.auth import get_user_model

    from commitments.services import commitment_edit

    editor, _ = get_user_model().objects.get_or_create(
        username="text-corrector", defaults={"is_staff": True, "is_superuser": True}
    )
    commitment = Commitment.objects.get(reference=reference)
    return commitment_edit(commitment=commitment, user=editor, changes={"text": text})

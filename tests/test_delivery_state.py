"""A commitment's stored delivery state always equals the one its approved updates give it."""

from __future__ import annotations

import itertools
from datetime import date, timedelta
from io import StringIO

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import CommandError, call_command
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from commitments import roles
from commitments.delivery import DeliveryConfidence, DeliveryStatus
from commitments.models import Commitment, StatusUpdate, UpdateState
from commitments.services import (
    update_approve,
    update_create,
    update_return,
    update_submit,
)
from metrics.rules import derive_delivery_state, stored_delivery_state

pytestmark = pytest.mark.django_db

REFERENCES = ["SD2-PEOPLE-G1", "SD2-PEOPLE-G2", "SD2-PEOPLE-G3"]
FIRST_DAY = date(2018, 12, 1)

# One update's life: which commitment, who writes it, as of when, what it says, and how far it gets.
life = st.tuples(
    st.integers(0, len(REFERENCES) - 1),
    st.integers(0, 2),  # two editors and the reviewer
    # Quarter ends in any order: later updates are often back-dated, and often share an as-of date.
    st.sampled_from([0, 91, 182, 273]),
    st.sampled_from(DeliveryStatus.values),
    st.sampled_from(["", *DeliveryConfidence.values]),
    st.one_of(st.none(), st.integers(0, 100)),
    st.sampled_from(["draft", "submitted", "returned", "approved", "returned-then-approved", "approved-by-author"]),
)
operations = st.lists(life, min_size=1, max_size=25)


def _oracle(approvals: list[tuple[date, int, str, str, int | None]]) -> tuple[str, str, int | None, date | None]:
    """The state a plain reading of the rules gives: latest as-of date, then latest approval."""
    if not approvals:
        return ("not_started", "", None, None)
    as_of, _, status, confidence, progress = max(approvals, key=lambda a: (a[0], a[1]))
    if progress is None:
        progress = {"delivered": 100, "not_started": 0}.get(status)
    return (status, confidence, progress, as_of)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(ops=operations)
def test_stored_state_agrees_with_approved_updates_after_any_sequence(ops, user_with_role):
    with transaction.atomic():
        editors = [user_with_role(roles.EDITOR), user_with_role(roles.EDITOR)]
        reviewer = user_with_role(roles.REVIEWER)
        authors = [*editors, reviewer]
        commitments = [Commitment.objects.get(reference=reference) for reference in REFERENCES]
        sequence = itertools.count()
        approvals: dict[int, list[tuple[date, int, str, str, int | None]]] = {c.pk: [] for c in commitments}
        for which, author_index, days, status, confidence, progress, fate in ops:
            author = authors[author_index]
            as_of = FIRST_DAY + timedelta(days=days)
            same_day = StatusUpdate.objects.filter(commitment=commitments[which], as_of=as_of)
            if any(other.state != UpdateState.APPROVED for other in same_day):
                continue  # one statement per commitment and day: a second one in progress is refused
            update = update_create(
                commitment=commitments[which],
                author=author,
                as_of=as_of,
                status=status,
                confidence=confidence,
                progress=progress,
                # A sentence: a change of confidence must say why (commitments.services.confidence_change_refusal).
                narrative="Generated for the property test.",
                # Beside an approved update of that day, only a correction of it.
                supersedes=same_day.order_by("-approved_at", "-pk").first(),
            )
            if fate == "draft":
                continue
            update_submit(update=update, user=author)
            if fate.startswith("returned"):
                try:
                    update_return(update=update, reviewer=reviewer, reason="Check the figures.")
                except ValidationError:
                    continue  # the reviewer wrote it: four eyes
                if fate == "returned":
                    continue
                update_submit(update=update, user=author)
            approver = author if fate == "approved-by-author" else reviewer
            try:
                update_approve(update=update, reviewer=approver)
            except (ValidationError, PermissionDenied):
                assert approver == author or not approver.has_perm("commitments.review_statusupdate")
                continue
            approvals[update.commitment_id].append((update.as_of, next(sequence), status, confidence, progress))
        for commitment in commitments:
            commitment.refresh_from_db()
            stored = stored_delivery_state(commitment)
            assert stored == derive_delivery_state(commitment_id=commitment.pk)
            assert (stored.status, stored.confidence, stored.progress, stored.as_of) == _oracle(
                approvals[commitment.pk]
            )
        transaction.set_rollback(True)


def test_verify_finds_and_repairs_a_drifted_state():
    commitment = Commitment.objects.get(reference="SD2-INFRA-G3")
    derived = derive_delivery_state(commitment_id=commitment.pk)
    commitment.delivery_status = DeliveryStatus.DELIVERED
    commitment.progress = 100
    commitment.save()

    output = StringIO()
    with pytest.raises(CommandError, match="1 commitment\\(s\\) disagree"):
        call_command("verify_delivery_state", stdout=output)
    assert "SD2-INFRA-G3: stored Delivered" in output.getvalue()
    commitment.refresh_from_db()
    assert commitment.delivery_status == DeliveryStatus.DELIVERED  # verifying alone changes nothing

    call_command("verify_delivery_state", "--repair", stdout=StringIO())
    commitment.refresh_from_db()
    assert stored_delivery_state(commitment) == derived
    assert commitment.history.first().history_change_reason == "Repaired by verify_delivery_state"
    call_command("verify_delivery_state", stdout=StringIO())


def test_verify_runs_a_constant_number_of_queries(django_assert_max_num_queries):
    with django_assert_max_num_queries(3):
        call_command("verify_delivery_state", stdout=StringIO())

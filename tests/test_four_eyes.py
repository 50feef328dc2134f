"""Four eyes that cannot be bypassed: nobody approves or returns an update whose content they wrote or changed.

A reviewer may help with a colleague's draft (edit its wording, its figures or its evidence links), but
then someone else must approve or return it. The rule is one function in ``commitments.services``; the
API, the admin's buttons, confirmation pages, list actions and work queue, and the importer's drafts
all meet it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from django.urls import reverse
from django.utils.html import escape
from rest_framework.test import APIClient

from commitments import roles
from commitments.models import Commitment, StatusUpdate, UpdateState
from commitments.services import (
    DraftData,
    EvidenceLinkData,
    update_approve,
    update_content_editor_ids,
    update_create,
    update_create_many,
    update_edit,
    update_may_review,
    update_submit,
)
from tests.admin_forms import change_form_data

# Request counts of the API's throttles never carry over from one test to the next.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_cache")]
V1 = "/api/v1"
REFERENCE = "SD2-PEOPLE-G3"
CHANGED = "You changed this update's content, so someone else must approve it."
CHANGED_RETURN = "You changed this update's content, so someone else must return it."
CHANGELIST = "admin:commitments_statusupdate_changelist"
# As a page shows them.
CHANGED_HTML, CHANGED_RETURN_HTML = escape(CHANGED), escape(CHANGED_RETURN)

DRAFT = {
    "commitment": REFERENCE,
    "as_of": "2019-09-30",
    "status": "in_progress",
    "confidence": "amber",
    "progress": 20,
    "narrative": "Recruitment has started.",
    "evidence_links": [{"url": "https://www.gov.uk/government/news/example", "title": "Announcement"}],
}


@pytest.fixture
def people(user_with_role: Callable[..., Any]) -> tuple[Any, Any, Any]:
    """An editor, a reviewer who will help with the editor's draft, and a second reviewer."""
    return (
        user_with_role(roles.EDITOR, username="erin"),
        user_with_role(roles.REVIEWER, username="rory"),
        user_with_role(roles.REVIEWER, username="sasha"),
    )


def _delivery(reference: str = REFERENCE) -> tuple[Any, ...]:
    commitment = Commitment.objects.get(reference=reference)
    return (commitment.delivery_status, commitment.delivery_confidence, commitment.progress, commitment.delivery_as_of)


def _draft_by(editor: Any, reference: str = REFERENCE) -> StatusUpdate:
    return update_create(
        commitment=Commitment.objects.get(reference=reference),
        author=editor,
        as_of=date(2019, 9, 30),
        status="in_progress",
        confidence="amber",
        progress=20,
        narrative="Recruitment has started.",
        evidence_links=[EvidenceLinkData(url="https://www.gov.uk/government/news/example", title="Announcement")],
    )


# --- the API ------------------------------------------------------------------------------------------


def test_a_reviewer_who_rewrote_a_draft_through_the_api_cannot_approve_it(
    api_as: Callable[[Any], APIClient], people: tuple[Any, Any, Any]
) -> None:
    editor, reviewer, second = people
    before = _delivery()
    created = api_as(editor).post(f"{V1}/updates/", DRAFT, format="json")
    assert created.status_code == 201, created.content
    url = f"{V1}/updates/{created.json()['uuid']}/"

    helper = api_as(reviewer)
    rewritten = helper.patch(
        url,
        {"status": "delivered", "confidence": "green", "progress": 100, "narrative": "Delivered in full."},
        format="json",
        HTTP_IF_MATCH=created["ETag"],
    )
    assert rewritten.status_code == 200, rewritten.content
    submitted = helper.post(f"{url}submit/", HTTP_IF_MATCH=rewritten["ETag"])
    assert submitted.status_code == 200, submitted.content

    approved = helper.post(f"{url}approve/", HTTP_IF_MATCH=submitted["ETag"])
    assert approved.status_code == 409, approved.content
    assert approved["Content-Type"] == "application/json"
    assert approved.json()["detail"] == CHANGED
    returned = helper.post(f"{url}return/", {"reason": "Check."}, format="json", HTTP_IF_MATCH=submitted["ETag"])
    assert returned.status_code == 409, returned.content
    assert returned.json()["detail"] == CHANGED_RETURN

    update = StatusUpdate.objects.get(uuid=created.json()["uuid"])
    assert (update.state, update.reviewed_by, update.approved_at) == (UpdateState.SUBMITTED, None, None)
    assert _delivery() == before
    assert api_as(reviewer).get(url).json()["workflow"]["author"] == "erin"

    # A reviewer who changed nothing approves it.
    approved = api_as(second).post(f"{url}approve/", HTTP_IF_MATCH=submitted["ETag"])
    assert approved.status_code == 200, approved.content
    assert approved.json()["workflow"]["reviewed_by"] == "sasha"
    assert _delivery()[:3] == ("delivered", "green", 100)


def test_changing_only_the_evidence_links_also_counts(
    api_as: Callable[[Any], APIClient], people: tuple[Any, Any, Any]
) -> None:
    editor, reviewer, second = people
    update = _draft_by(editor)
    url = f"{V1}/updates/{update.uuid}/"
    helper = api_as(reviewer)
    links = [{"url": "https://www.gov.uk/government/news/other", "title": "A better source"}]
    changed = helper.patch(url, {"evidence_links": links}, format="json", HTTP_IF_MATCH=f'"{update.version}"')
    assert changed.status_code == 200, changed.content
    assert changed.json()["evidence_links"] == links
    submitted = api_as(editor).post(f"{url}submit/", HTTP_IF_MATCH=changed["ETag"])
    assert submitted.status_code == 200, submitted.content

    refused = helper.post(f"{url}approve/", HTTP_IF_MATCH=submitted["ETag"])
    assert refused.status_code == 409
    assert refused.json()["detail"] == CHANGED
    assert StatusUpdate.objects.get(pk=update.pk).state == UpdateState.SUBMITTED
    assert api_as(second).post(f"{url}approve/", HTTP_IF_MATCH=submitted["ETag"]).status_code == 200


def test_a_reviewer_who_only_read_and_submitted_may_approve(
    api_as: Callable[[Any], APIClient], people: tuple[Any, Any, Any]
) -> None:
    editor, reviewer, _ = people
    update = _draft_by(editor)
    url = f"{V1}/updates/{update.uuid}/"
    helper = api_as(reviewer)
    assert helper.get(url).status_code == 200
    # Submitting is a step of the workflow, not a change to what the update says.
    submitted = helper.post(f"{url}submit/", HTTP_IF_MATCH=f'"{update.version}"')
    assert submitted.status_code == 200, submitted.content
    approved = helper.post(f"{url}approve/", HTTP_IF_MATCH=submitted["ETag"])
    assert approved.status_code == 200, approved.content


# --- the admin ----------------------------------------------------------------------------------------


def _change_url(update: StatusUpdate) -> str:
    return reverse("admin:commitments_statusupdate_change", args=[update.pk])


def _transition_url(update: StatusUpdate, step: str) -> str:
    return reverse("admin:commitments_statusupdate_transition", args=[update.pk, step])


def test_a_reviewer_who_edited_a_draft_in_the_admin_cannot_approve_or_return_it(
    client: Any, people: tuple[Any, Any, Any]
) -> None:
    editor, reviewer, second = people
    update = _draft_by(editor)
    client.force_login(reviewer)
    page = client.get(_change_url(update))
    response = client.post(_change_url(update), change_form_data(page, status="delivered", progress="100"))
    assert response.status_code == 302, response.context["adminform"].form.errors
    update_submit(update=StatusUpdate.objects.get(pk=update.pk), user=editor)

    # No buttons, and the confirmation page says the step cannot be taken.
    page = client.get(_change_url(update)).content.decode()
    assert "lsis-workflow-approve" not in page
    assert "lsis-workflow-return" not in page
    confirm = client.get(_transition_url(update, "approve")).content.decode()
    assert "You cannot take this step on this update" in confirm
    assert 'type="submit" value="Approve"' not in confirm

    # Posting the confirmation anyway is refused, with the reason.
    response = client.post(_transition_url(update, "approve"), follow=True)
    assert CHANGED_HTML in response.content.decode()
    response = client.post(_transition_url(update, "return"), {"reason": "Check the figures."}, follow=True)
    assert CHANGED_RETURN_HTML in response.content.decode()

    # So is the list action.
    data = {"action": "approve_selected", "_selected_action": [update.pk], "confirm": "yes"}
    page = client.post(reverse(CHANGELIST), data, follow=True).content.decode()
    assert CHANGED_HTML in page
    assert "update(s) approved" not in page
    assert StatusUpdate.objects.get(pk=update.pk).state == UpdateState.SUBMITTED

    # Another reviewer is offered the steps, and approves.
    client.force_login(second)
    assert "lsis-workflow-approve" in client.get(_change_url(update)).content.decode()
    page = client.post(reverse(CHANGELIST), data, follow=True).content.decode()
    assert "1 update(s) approved." in page
    assert StatusUpdate.objects.get(pk=update.pk).reviewed_by == second


def test_adding_an_evidence_link_in_the_admin_counts(client: Any, people: tuple[Any, Any, Any]) -> None:
    editor, reviewer, _ = people
    update = _draft_by(editor)
    client.force_login(reviewer)
    page = client.get(_change_url(update))
    data = change_form_data(page)
    extra = int(data["evidence_links-TOTAL_FORMS"])
    data.update(
        {
            "evidence_links-TOTAL_FORMS": str(extra + 1),
            f"evidence_links-{extra}-title": "Press release",
            f"evidence_links-{extra}-url": "https://www.gov.uk/government/news/press",
        }
    )
    response = client.post(_change_url(update), data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert update.evidence_links.count() == 2
    update_submit(update=StatusUpdate.objects.get(pk=update.pk), user=editor)
    response = client.post(_transition_url(update, "approve"), follow=True)
    assert CHANGED_HTML in response.content.decode()
    assert StatusUpdate.objects.get(pk=update.pk).state == UpdateState.SUBMITTED


def test_the_review_queue_leaves_out_updates_the_reviewer_changed(client: Any, people: tuple[Any, Any, Any]) -> None:
    editor, reviewer, second = people
    helped = _draft_by(editor)
    update_edit(update=helped, user=reviewer, narrative="Recruitment started in May.")
    update_submit(update=helped, user=editor)
    untouched = update_submit(
        update=update_create(
            commitment=Commitment.objects.get(reference="SD2-PEOPLE-G2"),
            author=editor,
            as_of=date(2019, 9, 30),
            status="in_progress",
            narrative="Untouched.",
        ),
        user=editor,
    )
    queue = reverse(CHANGELIST) + "?queue=review"
    client.force_login(reviewer)
    assert list(client.get(queue).context["cl"].result_list) == [untouched]
    client.force_login(second)
    assert set(client.get(queue).context["cl"].result_list) == {helped, untouched}


# --- the importer and the rule itself -------------------------------------------------------------------


def test_drafts_written_by_the_importer_count_their_importer(user_with_role: Callable[..., Any]) -> None:
    importer, other = user_with_role(roles.REVIEWER), user_with_role(roles.REVIEWER)
    data = DraftData(
        commitment=Commitment.objects.get(reference=REFERENCE),
        as_of=date(2019, 9, 30),
        status="in_progress",
        narrative="From the quarterly spreadsheet.",
        evidence_links=[EvidenceLinkData(url="https://www.gov.uk/government/news/example", title="Source")],
    )
    [update] = update_create_many(author=importer, drafts=[data])
    update_submit(update=update, user=importer)
    assert update_content_editor_ids(update=update) == {importer.pk}
    assert not update_may_review(update=update, user=importer)
    assert update_may_review(update=update, user=other)
    with pytest.raises(Exception, match="someone else must approve it"):
        update_approve(update=update, reviewer=importer)
    assert update_approve(update=update, reviewer=other).state == UpdateState.APPROVED


def test_every_content_editor_is_found_in_one_query(
    people: tuple[Any, Any, Any], django_assert_num_queries: Any, user_with_role: Callable[..., Any]
) -> None:
    editor, reviewer, second = people
    third = user_with_role(roles.EDITOR)
    update = _draft_by(editor)
    update_edit(update=update, user=reviewer, narrative="Reworded.")
    update_edit(
        update=update, user=third, evidence_links=[EvidenceLinkData(url="https://www.gov.uk/a", title="Another")]
    )
    update_submit(update=update, user=editor)
    with django_assert_num_queries(1):
        editors = update_content_editor_ids(update=update)
    assert editors == {editor.pk, reviewer.pk, third.pk}
    assert second.has_perm("commitments.review_statusupdate")  # permissions read before counting
    with django_assert_num_queries(1):
        assert update_may_review(update=update, user=second)


def test_approving_costs_the_same_queries_however_long_the_history(people: tuple[Any, Any, Any]) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    editor, _, second = people
    assert second.has_perm("commitments.review_statusupdate")  # permissions read once, before counting
    counts = []
    # Two commitments alike (neither continues nor elaborates another, whose records the change feed names too).
    for reference, edits in (("SD2-PEOPLE-G2", 0), ("SD2-PEOPLE-G4", 6)):
        update = _draft_by(editor, reference)
        for n in range(edits):
            update_edit(
                update=update,
                user=editor,
                narrative=f"Version {n}.",
                evidence_links=[EvidenceLinkData(url=f"https://www.gov.uk/{n}", title=f"Source {n}")],
            )
        update_submit(update=update, user=editor)
        with CaptureQueriesContext(connection) as queries:
            update_approve(update=update, reviewer=second)
        counts.append(len(queries))
    assert counts[0] == counts[1]

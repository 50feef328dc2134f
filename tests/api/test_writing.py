"""Writing through the API: the same workflow services as the admin, with If-Match on every change."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.test import APIClient

from commitments import roles
from commitments.models import Commitment, StatusUpdate, UpdateState
from metrics.models import RecomputeMarker

pytestmark = pytest.mark.django_db
V1 = "/api/v1"

DRAFT = {
    "commitment": "SD2-PEOPLE-G3",
    "as_of": "2019-09-30",
    "status": "in_progress",
    "confidence": "amber_green",
    "progress": 40,
    "narrative": "Recruitment is complete.",
    "evidence_links": [{"url": "https://www.gov.uk/government/news/example", "title": "Announcement"}],
}


def test_an_editor_script_writes_and_submits_and_a_reviewer_approves(
    api_for: Callable[[str], APIClient], settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.CELERY_TASK_ALWAYS_EAGER = True  # no broker: the recompute runs in-process, as on the embedded default
    editor, reviewer = api_for(roles.EDITOR), api_for(roles.REVIEWER)
    created = editor.post(f"{V1}/updates/", DRAFT, format="json")
    assert created.status_code == 201, created.content
    body = created.json()
    assert created["Location"] == f"{V1}/updates/{body['uuid']}/"
    assert created["ETag"] == '"1"'
    assert body["workflow"]["state"] == "draft"
    assert body["evidence_links"] == DRAFT["evidence_links"]
    update = StatusUpdate.objects.get(uuid=body["uuid"])
    assert update.history.latest().history_change_reason == "Draft written"

    submitted = editor.post(f"{V1}/updates/{update.uuid}/submit/", HTTP_IF_MATCH=created["ETag"])
    assert submitted.status_code == 200, submitted.content
    assert submitted.json()["workflow"]["state"] == "submitted"

    with django_capture_on_commit_callbacks() as after_commit:
        approved = reviewer.post(f"{V1}/updates/{update.uuid}/approve/", HTTP_IF_MATCH=submitted["ETag"])
    assert approved.status_code == 200, approved.content
    update.refresh_from_db()
    assert update.state == UpdateState.APPROVED
    commitment = Commitment.objects.get(reference="SD2-PEOPLE-G3")
    assert commitment.delivery_status == "in_progress"
    assert commitment.progress == 40
    # The approval leaves an outbox marker: the commitment's figures are stale from the update's date on...
    markers = RecomputeMarker.objects.filter(commitment=commitment).values_list("from_date", flat=True)
    assert [day.isoformat() for day in markers] == [DRAFT["as_of"]]
    # ...and once it has committed, the recompute it asks for processes the marker (in-process here).
    for callback in after_commit:
        callback()
    assert not markers.all().exists()
    # The approved update is now part of what partners see.
    partner = api_for(roles.PARTNER)
    assert partner.get(f"{V1}/updates/{update.uuid}/").status_code == 200


def test_a_write_without_if_match_is_428_and_a_stale_one_412(
    api_for: Callable[[str], APIClient], draft_by_colleague: Callable[..., StatusUpdate]
) -> None:
    editor = api_for(roles.EDITOR)
    update = draft_by_colleague(submitted=False)
    url = f"{V1}/updates/{update.uuid}/submit/"
    missing = editor.post(url)
    assert missing.status_code == 428
    assert missing.json()["code"] == "precondition_required"
    assert "If-Match" in missing.json()["detail"]
    stale = editor.post(url, HTTP_IF_MATCH=f'"{update.version - 1 or 99}"')
    assert stale.status_code == 412
    assert stale.json()["code"] == "precondition_failed"
    for junk in ["*", "abc", '"1", "2"']:
        refused = editor.post(url, HTTP_IF_MATCH=junk)
        assert refused.status_code == 400, junk
        assert "If-Match" in refused.json()["fields"]
    update.refresh_from_db()
    assert update.state == UpdateState.DRAFT


def test_an_edit_that_lost_the_race_is_refused_and_nothing_is_overwritten(
    api_for: Callable[[str], APIClient], draft_by_colleague: Callable[..., StatusUpdate]
) -> None:
    first, second = api_for(roles.EDITOR), api_for(roles.EDITOR)
    update = draft_by_colleague(submitted=False)
    etag = first.get(f"{V1}/updates/{update.uuid}/")["ETag"]
    assert second.get(f"{V1}/updates/{update.uuid}/")["ETag"] == etag
    won = first.patch(f"{V1}/updates/{update.uuid}/", {"narrative": "First."}, format="json", HTTP_IF_MATCH=etag)
    assert won.status_code == 200
    assert won["ETag"] != etag
    lost = second.patch(f"{V1}/updates/{update.uuid}/", {"narrative": "Second."}, format="json", HTTP_IF_MATCH=etag)
    assert lost.status_code == 412
    update.refresh_from_db()
    assert update.narrative == "First."


def test_workflow_rules_are_409_with_the_services_words(
    api_for: Callable[[str], APIClient], draft_by_colleague: Callable[..., StatusUpdate], user_with_role: Any
) -> None:
    reviewer = api_for(roles.REVIEWER)
    draft = draft_by_colleague(submitted=False)
    early = reviewer.post(f"{V1}/updates/{draft.uuid}/approve/", HTTP_IF_MATCH=f'"{draft.version}"')
    assert early.status_code == 409
    assert early.json()["code"] == "conflict"
    assert "submitted" in early.json()["detail"]
    # Four eyes: a reviewer cannot approve their own update.
    own = reviewer.post(f"{V1}/updates/", DRAFT, format="json")
    assert own.status_code == 201, own.content
    submitted = reviewer.post(f"{V1}/updates/{own.json()['uuid']}/submit/", HTTP_IF_MATCH=own["ETag"])
    assert submitted.status_code == 200, submitted.content
    mine = reviewer.post(f"{V1}/updates/{own.json()['uuid']}/approve/", HTTP_IF_MATCH=submitted["ETag"])
    assert mine.status_code == 409
    assert "someone else" in mine.json()["detail"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"status": "finished"}, "status"),
        ({"progress": 140}, "progress"),
        ({"commitment": 5}, "commitment"),
        ({"funding_spent": "-5"}, "funding_spent"),
        ({"evidence_links": [{"url": "not a url", "title": "x"}]}, "evidence_links"),
        ({"narrative": ""}, "narrative"),
    ],
)
def test_invalid_drafts_are_400_per_field(api_for: Callable[[str], APIClient], change: dict, field: str) -> None:
    before = StatusUpdate.objects.count()
    response = api_for(roles.EDITOR).post(f"{V1}/updates/", {**DRAFT, **change}, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["fields"]
    assert StatusUpdate.objects.count() == before


def test_returning_needs_a_reason_and_reaches_the_author(
    api_for: Callable[[str], APIClient], draft_by_colleague: Callable[..., StatusUpdate]
) -> None:
    reviewer = api_for(roles.REVIEWER)
    update = draft_by_colleague(submitted=True)
    url = f"{V1}/updates/{update.uuid}/return/"
    assert reviewer.post(url, {}, format="json", HTTP_IF_MATCH=f'"{update.version}"').status_code == 400
    returned = reviewer.post(url, {"reason": "Cite the evidence."}, format="json", HTTP_IF_MATCH=f'"{update.version}"')
    assert returned.status_code == 200
    assert returned.json()["workflow"]["return_reason"] == "Cite the evidence."


def test_staff_may_use_their_session_with_csrf(user_with_role: Callable[..., Any]) -> None:
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(user_with_role(roles.EDITOR))
    assert client.get(f"{V1}/commitments/").status_code == 200
    refused = client.post(f"{V1}/updates/", DRAFT, format="json")
    assert refused.status_code == 403
    assert "CSRF" in refused.json()["detail"]


def test_a_partner_session_sees_only_published_data(user_with_role: Callable[..., Any]) -> None:
    client = APIClient()
    client.force_login(user_with_role(roles.PARTNER))
    assert client.get(f"{V1}/commitments/")["Content-Type"] == "application/json"
    assert client.get(f"{V1}/commitments/").json()["count"] == Commitment.objects.published().count()

"""The delivery plan: changes of a deadline (four eyes), the confidence rule, milestones, dependencies.

Through the public surfaces: the services, the admin's pages, the commitment page, the API and the board pack.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from datetime import date, timedelta
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from commitments import roles
from commitments.delivery import DeliveryConfidence, DeliveryStatus
from commitments.delivery_plan import (
    baseline_change_approve,
    baseline_change_reject,
    baseline_change_request,
    dependency_create,
    milestone_create,
    milestone_delete,
    milestone_edit,
)
from commitments.models import BaselineChange, BaselineChangeState, Commitment, Dependency, Milestone
from commitments.periods import last_completed
from commitments.services import (
    DraftData,
    DraftsRefusedError,
    WorkflowError,
    commitment_edit,
    commitment_set_published,
    update_approve,
    update_create,
    update_create_many,
    update_submit,
)
from lsis.core.models import StaffProfile
from metrics import rules
from metrics.services import metrics_recompute
from metrics.update_cycle import Cycle
from tests.admin_forms import change_form_data
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

REFERENCE = "SD2-IDEAS-HARP-G1"
OTHER = "SD2-PEOPLE-G3"
THIRD = "SD2-PEOPLE-G2"


def _commitment(reference: str = REFERENCE) -> Commitment:
    return Commitment.objects.get(reference=reference)


def _reviewer() -> Any:
    user = UserFactory.create(is_staff=True)
    user.groups.add(Group.objects.get(name=roles.REVIEWER))
    return user


def _with_baseline(reference: str = REFERENCE, day: date = date(2021, 3, 31)) -> Commitment:
    """The commitment with a baseline of ``day``: corrected while withdrawn from partners, then published again."""
    reviewer = _reviewer()
    commitment = commitment_set_published(commitment=_commitment(reference), user=reviewer, published=False)
    if commitment.target_date != day:
        commitment_edit(commitment=commitment, user=reviewer, changes={"target_date": day})
    commitment_set_published(commitment=commitment, user=reviewer, published=True)
    return _commitment(reference)


def _requested(user_with_role: Any, reference: str = REFERENCE, proposed: date = date(2021, 9, 30)) -> BaselineChange:
    requester = user_with_role(roles.EDITOR)
    return baseline_change_request(
        commitment=_with_baseline(reference),
        proposed_date=proposed,
        reason="The trial recruited slowly.",
        user=requester,
    )


# --- asking for a change of deadline, and deciding it ---------------------------------------------------------


def test_a_request_records_the_deadline_it_moves_from_and_waits(user_with_role):
    change = _requested(user_with_role)

    assert change.state == BaselineChangeState.PENDING
    assert change.previous_date == date(2021, 3, 31)
    assert change.history.first().history_change_reason == "Change of deadline requested"
    assert _commitment().forecast_date is None


def test_approval_by_another_reviewer_sets_the_forecast_and_keeps_the_baseline(user_with_role):
    change = _requested(user_with_role)
    reviewer = user_with_role(roles.REVIEWER)

    approved = baseline_change_approve(change=change, reviewer=reviewer)

    commitment = _commitment()
    assert approved.state == BaselineChangeState.APPROVED
    assert approved.decided_by == reviewer
    assert commitment.target_date == date(2021, 3, 31)
    assert commitment.forecast_date == date(2021, 9, 30)
    assert commitment.history.first().history_user == reviewer
    # A second request moves from the forecast.
    again = baseline_change_request(
        commitment=commitment,
        proposed_date=date(2022, 3, 31),
        reason="Slipped again.",
        user=user_with_role(roles.EDITOR),
    )
    assert again.previous_date == date(2021, 9, 30)


def test_four_eyes_the_requester_cannot_decide_their_own_request(user_with_role):
    reviewer = user_with_role(roles.REVIEWER)
    change = baseline_change_request(
        commitment=_with_baseline(), proposed_date=date(2021, 9, 30), reason="Slipped.", user=reviewer
    )
    with pytest.raises(WorkflowError, match="someone else must approve"):
        baseline_change_approve(change=change, reviewer=reviewer)
    with pytest.raises(WorkflowError, match="someone else must reject"):
        baseline_change_reject(change=change, reviewer=reviewer, note="No.")
    assert _commitment().forecast_date is None


@pytest.mark.parametrize("role", [roles.EDITOR, roles.BOARD_MEMBER, roles.PARTNER])
def test_only_reviewers_decide(user_with_role, role):
    change = _requested(user_with_role)
    with pytest.raises(PermissionDenied):
        baseline_change_approve(change=change, reviewer=user_with_role(role))


@pytest.mark.parametrize("role", [roles.BOARD_MEMBER, roles.PARTNER])
def test_board_members_and_partners_cannot_ask(user_with_role, role):
    with pytest.raises(PermissionDenied):
        baseline_change_request(
            commitment=_with_baseline(), proposed_date=date(2021, 9, 30), reason="Why not.", user=user_with_role(role)
        )


def test_rejection_says_why_and_leaves_the_deadline(user_with_role):
    change = _requested(user_with_role)
    reviewer = user_with_role(roles.REVIEWER)
    with pytest.raises(ValidationError) as refused:
        baseline_change_reject(change=change, reviewer=reviewer, note="  ")
    assert "decision_note" in refused.value.message_dict

    rejected = baseline_change_reject(change=change, reviewer=reviewer, note="Recruitment has recovered.")

    assert rejected.state == BaselineChangeState.REJECTED
    assert _commitment().forecast_date is None
    with pytest.raises(WorkflowError, match="already"):
        baseline_change_approve(change=rejected, reviewer=user_with_role(roles.REVIEWER))


def test_a_request_needs_a_reason_a_published_commitment_and_no_other_waiting(user_with_role):
    editor = user_with_role(roles.EDITOR)
    with pytest.raises(ValidationError) as no_reason:
        baseline_change_request(commitment=_with_baseline(), proposed_date=date(2021, 9, 30), reason=" ", user=editor)
    assert no_reason.value.message_dict["reason"] == ["Say why the deadline should move"]

    _requested(user_with_role)
    with pytest.raises(ValidationError) as second:
        baseline_change_request(commitment=_commitment(), proposed_date=date(2022, 1, 31), reason="Again.", user=editor)
    assert "waiting for a decision" in second.value.message_dict["commitment"][0]

    unpublished = commitment_set_published(
        commitment=_commitment(OTHER), user=user_with_role(roles.REVIEWER), published=False
    )
    with pytest.raises(ValidationError) as not_published:
        baseline_change_request(commitment=unpublished, proposed_date=date(2030, 1, 31), reason="Slip.", user=editor)
    assert "is not published" in not_published.value.message_dict["commitment"][0]


def test_a_published_commitments_target_date_is_refused_by_the_edit_service(user_with_role):
    commitment = _with_baseline()
    with pytest.raises(ValidationError) as refused:
        commitment_edit(
            commitment=commitment, user=user_with_role(roles.REVIEWER), changes={"target_date": date(2022, 3, 31)}
        )
    assert refused.value.message_dict["target_date"][0].startswith(
        "A published commitment's deadline changes by a request"
    )
    assert _commitment().target_date == date(2021, 3, 31)


# --- the admin ------------------------------------------------------------------------------------------------


def test_the_admin_asks_approves_and_shows_baseline_and_forecast(client_for, user_with_role):
    commitment = _with_baseline()
    editor = client_for(roles.EDITOR)
    add = reverse("admin:commitments_baselinechange_add")
    listing = editor.get(reverse("admin:commitments_baselinechange_changelist"))
    assert "Request a change of deadline" in listing.content.decode()

    response = editor.post(add, {"commitment": commitment.pk, "proposed_date": "2021-09-30", "reason": "Slipped."})

    assert response.status_code == 302
    change = BaselineChange.objects.get(commitment=commitment)
    url = reverse("admin:commitments_baselinechange_approve", args=[change.pk])
    assert editor.post(url).status_code == 403
    assert client_for(roles.BOARD_MEMBER).post(url).status_code == 403
    reviewer = client_for(roles.REVIEWER)
    page = reviewer.get(reverse("admin:commitments_baselinechange_change", args=[change.pk]))
    assert "lsis-decision-approve" in page.content.decode()

    assert reviewer.post(url).status_code == 302

    change.refresh_from_db()
    assert change.state == BaselineChangeState.APPROVED
    form = reviewer.get(reverse("admin:commitments_commitment_change", args=[commitment.pk]))
    assert "Baseline 31 March 2021, forecast 30 September 2021" in form.content.decode()
    decided = reviewer.get(reverse("admin:commitments_baselinechange_change", args=[change.pk])).content.decode()
    assert "lsis-decision-approve" not in decided
    assert 'name="_save"' not in decided
    assert reviewer.post(url).status_code == 403  # decided: a record now


def test_the_admin_refuses_its_own_requester_and_shows_refusals_on_the_form(user_with_role, client):
    reviewer = user_with_role(roles.REVIEWER)
    client.force_login(reviewer)
    commitment = _with_baseline()
    add = reverse("admin:commitments_baselinechange_add")
    empty = client.post(add, {"commitment": commitment.pk, "proposed_date": "2021-03-31", "reason": ""})
    assert empty.status_code == 200
    errors = empty.context["adminform"].form.errors
    assert errors["reason"] == ["Say why the deadline should move"]
    assert "already" in errors["proposed_date"][0]

    client.post(add, {"commitment": commitment.pk, "proposed_date": "2021-09-30", "reason": "Slipped."})
    change = BaselineChange.objects.get(commitment=commitment)
    page = client.get(reverse("admin:commitments_baselinechange_change", args=[change.pk]))
    assert "lsis-decision-approve" not in page.content.decode()
    assert client.post(reverse("admin:commitments_baselinechange_approve", args=[change.pk])).status_code == 403
    assert (
        client.post(reverse("admin:commitments_baselinechange_reject", args=[change.pk]), {"reason": "x"}).status_code
        == 403
    )


def test_the_commitment_form_keeps_a_published_target_date(client_for):
    commitment = _with_baseline()
    client = client_for(roles.REVIEWER)
    url = reverse("admin:commitments_commitment_change", args=[commitment.pk])
    page = client.get(url)
    assert "target_date" not in page.context["adminform"].form.fields

    client.post(url, {**change_form_data(page), "target_date": "2030-01-31"})

    assert _commitment().target_date == date(2021, 3, 31)


def test_the_commitment_form_refuses_new_words_that_move_a_published_deadline(client_for):
    commitment = _with_baseline()
    client = client_for(roles.REVIEWER)
    url = reverse("admin:commitments_commitment_change", args=[commitment.pk])
    response = client.post(url, change_form_data(client.get(url), target_date_text="by March 2030"))
    assert response.status_code == 200
    errors = response.context["adminform"].form.non_field_errors()
    assert any("changes by a request" in error for error in errors)


# --- the confidence rule --------------------------------------------------------------------------------------


def _approved(user_with_role: Any, *, confidence: str, as_of: date, reference: str = OTHER) -> Any:
    author = user_with_role(roles.EDITOR)
    update = update_create(
        commitment=_commitment(reference),
        author=author,
        as_of=as_of,
        status="in_progress",
        confidence=confidence,
        narrative="The programme is recruiting as planned.",
    )
    update_submit(update=update, user=author)
    return update_approve(update=update, reviewer=user_with_role(roles.REVIEWER))


def test_a_change_of_confidence_must_say_why(user_with_role):
    _approved(user_with_role, confidence="amber", as_of=date(2024, 3, 31))
    editor = user_with_role(roles.EDITOR)
    with pytest.raises(ValidationError) as refused:
        update_create(
            commitment=_commitment(OTHER),
            author=editor,
            as_of=date(2024, 6, 30),
            status="in_progress",
            confidence="red",
            narrative="Worse.",
        )
    assert refused.value.message_dict["narrative"][0].startswith(
        "Say why the delivery confidence changed from Amber to Red"
    )
    # The same confidence needs no reason; a reason of a sentence is enough.
    update_create(
        commitment=_commitment(OTHER),
        author=editor,
        as_of=date(2024, 6, 29),
        status="in_progress",
        confidence="amber",
        narrative="Same.",
    )
    update_create(
        commitment=_commitment(OTHER),
        author=user_with_role(roles.EDITOR),
        as_of=date(2024, 6, 30),
        status="in_progress",
        confidence="red",
        narrative="The main supplier withdrew in May.",
    )


def test_the_import_holds_to_the_confidence_rule(user_with_role):
    _approved(user_with_role, confidence="amber", as_of=date(2024, 3, 31))
    with pytest.raises(DraftsRefusedError) as refused:
        update_create_many(
            author=user_with_role(roles.EDITOR),
            drafts=[
                DraftData(
                    commitment=_commitment(OTHER),
                    as_of=date(2024, 6, 30),
                    status="in_progress",
                    confidence="green",
                    narrative="Better.",
                )
            ],
        )
    assert "from Amber to Green" in refused.value.errors[0].message_dict["narrative"][0]


def test_the_admin_form_shows_the_confidence_error_on_the_narrative(user_with_role, client_for):
    _approved(user_with_role, confidence="amber", as_of=date(2024, 3, 31))
    client = client_for(roles.EDITOR)
    response = client.post(
        reverse("admin:commitments_statusupdate_add"),
        {
            "commitment": _commitment(OTHER).pk,
            "as_of": "2024-06-30",
            "status": "in_progress",
            "confidence": "red",
            "narrative": "Worse.",
            "evidencelink_set-TOTAL_FORMS": "0",
            "evidencelink_set-INITIAL_FORMS": "0",
            "evidencelink_set-MIN_NUM_FORMS": "0",
            "evidencelink_set-MAX_NUM_FORMS": "1000",
        },
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert errors["narrative"][0].startswith("Say why the delivery confidence changed from Amber to Red")
    assert "Say why the delivery confidence changed from Amber to Red" in response.content.decode()


# --- milestones and dependencies ------------------------------------------------------------------------------


def test_milestones_are_written_through_their_services(user_with_role):
    editor = user_with_role(roles.EDITOR)
    milestone = milestone_create(commitment=_commitment(), title="Trial opens", due_on=date(2024, 1, 31), user=editor)
    assert milestone.history.first().history_user == editor
    with pytest.raises(ValidationError) as refused:
        milestone_edit(milestone=milestone, user=editor, changes={"done_on": timezone.localdate() + timedelta(days=5)})
    assert "done_on" in refused.value.message_dict
    with pytest.raises(PermissionDenied):
        milestone_create(
            commitment=_commitment(), title="No", due_on=date(2024, 1, 31), user=user_with_role(roles.BOARD_MEMBER)
        )
    milestone_delete(milestone=milestone, user=editor)
    assert not Milestone.objects.filter(commitment=_commitment()).exists()


def test_a_loop_of_dependencies_is_refused_and_named(user_with_role, django_assert_max_num_queries):
    editor = user_with_role(roles.EDITOR)
    first, second, third = _commitment(REFERENCE), _commitment(OTHER), _commitment(THIRD)
    dependency_create(commitment=first, depends_on=second, user=editor)
    dependency_create(commitment=second, depends_on=third, user=editor)

    with django_assert_max_num_queries(12), pytest.raises(ValidationError) as refused:
        dependency_create(commitment=third, depends_on=first, user=editor)

    assert refused.value.message_dict["depends_on"] == [
        f"That would make a loop of dependencies: {THIRD} → {REFERENCE} → {OTHER} → {THIRD}. "
        "A commitment cannot wait on itself"
    ]
    with pytest.raises(ValidationError) as itself:
        dependency_create(commitment=first, depends_on=first, user=editor)
    assert "itself" in itself.value.message_dict["depends_on"][0]
    assert Dependency.objects.count() == 2


# --- the commitment page and the API ----------------------------------------------------------------------------


def _plan(user_with_role: Any) -> dict[str, Any]:
    """HARP re-baselined, owned by a member of staff of a team, with two milestones and dependencies both ways."""
    change = _requested(user_with_role)
    baseline_change_approve(change=change, reviewer=user_with_role(roles.REVIEWER))
    owner = user_with_role(roles.EDITOR, first_name="Ada", last_name="Owner", email="ada.owner@example.gov.uk")
    StaffProfile.objects.create(user=owner, team="Office for Life Sciences: Innovation")
    commitment_edit(commitment=_commitment(), user=user_with_role(roles.REVIEWER), changes={"owner": owner})
    editor = user_with_role(roles.EDITOR)
    harp = _commitment()
    milestone_create(commitment=harp, title="Trial opens", due_on=date(2020, 1, 31), user=editor)
    milestone_create(
        commitment=harp, title="First results", due_on=date(2020, 6, 30), done_on=date(2020, 6, 1), user=editor
    )
    dependency_create(commitment=harp, depends_on=_commitment(OTHER), note="Needs the skills pipeline.", user=editor)
    dependency_create(commitment=_commitment(THIRD), depends_on=harp, user=editor)
    hidden = commitment_set_published(
        commitment=_commitment("SD2-PEOPLE-G1"), user=user_with_role(roles.REVIEWER), published=False
    )
    dependency_create(commitment=harp, depends_on=hidden, note="Unpublished.", user=editor)
    return {"owner": owner}


def _extra(number: int) -> Commitment:
    """Another published commitment than the three the tests name."""
    return (
        Commitment.objects.published()
        .exclude(reference__in=[REFERENCE, OTHER, THIRD, "SD2-PEOPLE-G1"])
        .order_by("reference")[number]
    )


def test_the_commitment_page_shows_the_plan(user_with_role, client_for, django_assert_max_num_queries):
    client = client_for(roles.BOARD_MEMBER)
    url = reverse("dashboards:commitment", args=[REFERENCE])
    _plan(user_with_role)
    with CaptureQueriesContext(connection) as before:
        client.get(url)
    editor = user_with_role(roles.EDITOR)
    for number in range(5):
        milestone_create(commitment=_commitment(), title=f"Step {number}", due_on=date(2021, 1, 1), user=editor)
        dependency_create(commitment=_commitment(), depends_on=_extra(number), user=editor)

    with django_assert_max_num_queries(len(before)):
        page = client.get(url).content.decode()

    assert "Baseline 31 March 2021, forecast 30 September 2021" in page
    assert "Ada Owner, Office for Life Sciences: Innovation" in page
    assert "ada.owner@example.gov.uk" not in page
    status = re.search(r'lsis-update-status">([^<]*)<', page)
    assert status is not None
    label = Cycle.on(timezone.localdate()).quarter.label
    expected = rf"No update owed for {label}|{label} update (due by|overdue since) \d+ \w+ \d{{4}}|{label} update done"
    assert re.fullmatch(expected, status[1])
    assert "Trial opens" in page
    assert page.count('govuk-tag--red">Overdue') == 6  # Trial opens and the five steps; First results was done
    assert "Depends on" in page
    assert f">{OTHER}</a>: Needs the skills pipeline." in page
    assert "Needed by" in page
    assert f">{THIRD}</a>" in page


def _plan_owner() -> Any:
    owner = _commitment().owner
    assert owner is not None
    return owner


def test_the_api_shows_baseline_forecast_team_milestones_and_dependencies(user_with_role, api_for):
    _plan(user_with_role)
    partner = api_for(roles.PARTNER).get(f"/api/v1/commitments/{REFERENCE}/").json()

    assert partner["baseline_date"] == "2021-03-31"
    assert partner["target_date"] == "2021-03-31"
    assert partner["forecast_date"] == "2021-09-30"
    assert partner["owning_team"] == "Office for Life Sciences: Innovation"
    body = json.dumps(partner)
    owner = _plan_owner()
    for personal in ("ada.owner@example.gov.uk", "Ada", "Owner", owner.username):
        assert f'"{personal}"' not in body
        assert personal not in str(partner["owning_team"])
    assert "ada.owner" not in body
    assert partner["milestones"] == [
        {"title": "Trial opens", "due_on": "2020-01-31", "done_on": None, "overdue": True},
        {"title": "First results", "due_on": "2020-06-30", "done_on": "2020-06-01", "overdue": False},
    ]
    # The unpublished commitment it depends on does not exist for a partner; staff see it.
    assert partner["depends_on"] == [{"reference": OTHER, "note": "Needs the skills pipeline."}]
    assert api_for(roles.PARTNER).get(f"/api/v1/commitments/{THIRD}/").json()["depends_on"] == [
        {"reference": REFERENCE, "note": ""}
    ]
    assert partner["needed_by"] == [{"reference": THIRD}]
    staff = api_for(roles.REVIEWER).get(f"/api/v1/commitments/{REFERENCE}/").json()
    assert {item["reference"] for item in staff["depends_on"]} == {OTHER, "SD2-PEOPLE-G1"}
    unowned = api_for(roles.PARTNER).get(f"/api/v1/commitments/{OTHER}/").json()
    assert unowned["owning_team"] is None
    assert unowned["needed_by"] == [{"reference": REFERENCE}]


def test_the_api_list_reads_the_plan_in_a_constant_number_of_queries(user_with_role, api_for, commit):
    client = api_for(roles.PARTNER)
    with CaptureQueriesContext(connection) as bare:
        client.get("/api/v1/commitments/", {"page_size": 200})
    _plan(user_with_role)
    commit()  # the data stamp moves: the list is read again, not answered from the cache
    with CaptureQueriesContext(connection) as planned:
        listed = client.get("/api/v1/commitments/", {"page_size": 200}).json()["results"]
    assert len(planned) <= len(bare)
    assert any(record["milestones"] for record in listed)


# --- the board pack ----------------------------------------------------------------------------------------------


def test_the_board_pack_marks_at_risk_commitments_blocked_by_one_at_risk_or_overdue(user_with_role, client_for):
    quarter = last_completed()
    key = Commitment.objects.filter(
        rules.commitment_kind_condition(rules.KEY_COMMITMENT), rules.counted_on(quarter.end)
    ).order_by("reference")
    overdue = key.filter(rules.overdue_condition(on=quarter.end)).first()
    assert overdue is not None, "the seeded data has overdue key commitments"
    red, amber_red, fine = key.filter(delivery_status=DeliveryStatus.IN_PROGRESS).exclude(pk=overdue.pk)[:3]
    day = quarter.start + timedelta(days=14)
    editor, reviewer = user_with_role(roles.EDITOR), user_with_role(roles.REVIEWER)
    for commitment, confidence in ((red, DeliveryConfidence.RED), (amber_red, DeliveryConfidence.AMBER_RED)):
        update = update_create(
            commitment=commitment,
            author=editor,
            as_of=day,
            status="in_progress",
            confidence=confidence,
            narrative="Rated at risk this quarter for the board pack test.",
        )
        update_submit(update=update, user=editor)
        update_approve(update=update, reviewer=reviewer)
    dependency_create(commitment=red, depends_on=overdue, user=editor)
    dependency_create(commitment=red, depends_on=fine, user=editor)  # neither at risk nor overdue: not a blocker
    dependency_create(commitment=amber_red, depends_on=red, user=editor)
    dependency_create(commitment=fine, depends_on=overdue, user=editor)  # not at risk itself: not listed
    metrics_recompute(quarters=[quarter.previous(), quarter])
    board = client_for(roles.BOARD_MEMBER)

    pack = board.get(reverse("dashboards:board_pack"))

    assert overdue.reference in [row[0].text for row in pack.context["tables"]["overdue"].rows]
    blocked = [[cell.text for cell in row] for row in pack.context["tables"]["blocked"].rows]
    assert sorted(blocked) == sorted(
        [
            [red.reference, blocked_text(red), "Red", f"Blocked by {overdue.reference} (overdue)"],
            [amber_red.reference, blocked_text(amber_red), "Amber/Red", f"Blocked by {red.reference} (rated red)"],
        ]
    )
    assert f"Blocked by {overdue.reference} (overdue)" in pack.content.decode()
    pdf = board.get(reverse("dashboards:board_pack_pdf"))
    assert pdf.status_code == 200
    pdftotext = shutil.which("pdftotext")
    if pdftotext is not None:
        text = subprocess.run([pdftotext, "-layout", "-", "-"], input=pdf.content, capture_output=True, check=True)  # noqa: S603
        assert f"Blocked by {overdue.reference}" in " ".join(text.stdout.decode().split())


def blocked_text(commitment: Commitment) -> str:
    return commitment.text if len(commitment.text) <= 140 else commitment.text[:137].rstrip() + "…"


def _inline_prefix(response: Any, model: type) -> str:
    for inline in response.context["inline_admin_formsets"]:
        if inline.formset.model is model:
            return str(inline.formset.prefix)
    raise AssertionError(f"no {model.__name__} rows on the page")


def test_the_commitment_form_saves_milestones_and_refuses_a_loop_on_its_row(user_with_role, client_for):
    editor = user_with_role(roles.EDITOR)
    dependency_create(commitment=_commitment(OTHER), depends_on=_commitment(), user=editor)
    client = client_for(roles.REVIEWER)
    url = reverse("admin:commitments_commitment_change", args=[_commitment().pk])
    page = client.get(url)
    milestones, dependencies = _inline_prefix(page, Milestone), _inline_prefix(page, Dependency)
    data = change_form_data(page)
    data.update(
        {
            f"{milestones}-TOTAL_FORMS": "1",
            f"{milestones}-0-title": "Trial opens",
            f"{milestones}-0-due_on": "2020-01-31",
            f"{dependencies}-TOTAL_FORMS": "1",
            f"{dependencies}-0-depends_on": str(_commitment(OTHER).pk),
            f"{dependencies}-0-note": "Would close a loop.",
        }
    )

    refused = client.post(url, data)

    assert refused.status_code == 200
    assert f"That would make a loop of dependencies: {REFERENCE} → {OTHER} → {REFERENCE}" in refused.content.decode()
    assert not Milestone.objects.filter(commitment=_commitment()).exists()
    data[f"{dependencies}-TOTAL_FORMS"] = "0"
    assert client.post(url, data).status_code == 302
    milestone = Milestone.objects.get(commitment=_commitment())
    assert milestone.history.first().history_change_reason == "Milestone added"


def test_the_api_refuses_an_unexplained_change_of_confidence_on_the_narrative(user_with_role, api_for):
    _approved(user_with_role, confidence="amber", as_of=date(2024, 3, 31))
    response = api_for(roles.EDITOR).post(
        "/api/v1/updates/",
        {
            "commitment": OTHER,
            "as_of": "2024-06-30",
            "status": "in_progress",
            "confidence": "red",
            "narrative": "Worse.",
        },
        format="json",
    )
    assert response.status_code == 422  # of the right form; a rule of the records refuses it
    assert "Say why the delivery confidence changed from Amber to Red" in json.dumps(response.json())
    assert "narrative" in json.dumps(response.json())

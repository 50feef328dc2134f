"""The review workflow of status updates, end to end through the admin."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from commitments import roles
from commitments.models import Commitment, StatusUpdate, UpdateState
from commitments.services import update_approve, update_create, update_submit
from metrics import rules
from tests.admin_forms import change_form_data

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:commitments_statusupdate_changelist"


def _transition_url(update: StatusUpdate, step: str) -> str:
    return reverse("admin:commitments_statusupdate_transition", args=[update.pk, step])


def _change_url(update: StatusUpdate) -> str:
    return reverse("admin:commitments_statusupdate_change", args=[update.pk])


def _login(client, user):
    client.force_login(user)
    return client


@pytest.fixture
def commitment():
    return Commitment.objects.get(reference="SD2-IDEAS-CLINRES-G1")  # five centres for late-phase research


def _draft_data(commitment, **overrides):
    data = {
        "commitment": commitment.pk,
        "as_of": "2019-06-30",
        "status": "in_progress",
        "confidence": "amber",
        "progress": "40",
        "narrative": "Three of the five centres are open.",
        "evidence_links-TOTAL_FORMS": "1",
        "evidence_links-INITIAL_FORMS": "0",
        "evidence_links-0-title": "NIHR announcement",
        "evidence_links-0-url": "https://www.nihr.ac.uk/news/centres",
    }
    data.update(overrides)
    return data


def test_the_full_cycle_through_the_admin(client, user_with_role, commitment):
    editor = user_with_role(roles.EDITOR, username="erin")
    reviewer = user_with_role(roles.REVIEWER, username="rory")
    state_before = (commitment.delivery_status, commitment.delivery_confidence)

    # The editor drafts an update with evidence, and submits it.
    _login(client, editor)
    response = client.post(reverse("admin:commitments_statusupdate_add"), _draft_data(commitment))
    assert response.status_code == 302, response.context["adminform"].form.errors
    update = StatusUpdate.objects.get(commitment=commitment, author=editor)
    assert update.state == UpdateState.DRAFT
    assert update.evidence_links.get().title == "NIHR announcement"
    page = client.get(_change_url(update)).content.decode()
    assert "Submit for review" in page
    assert "lsis-workflow-approve" not in page  # editors do not review
    assert client.get(_transition_url(update, "submit")).status_code == 200  # the confirmation page
    client.post(_transition_url(update, "submit"))
    update.refresh_from_db()
    assert update.state == UpdateState.SUBMITTED

    # The reviewer returns it with a reason.
    _login(client, reviewer)
    response = client.post(_transition_url(update, "return"), {"reason": ""})
    assert "Say why the update is being returned" in response.content.decode()
    client.post(_transition_url(update, "return"), {"reason": "Name the three centres that are open."})
    update.refresh_from_db()
    assert (update.state, update.return_reason, update.reviewed_by) == (
        UpdateState.RETURNED,
        "Name the three centres that are open.",
        reviewer,
    )

    # The editor sees why, corrects the narrative and resubmits.
    _login(client, editor)
    page = client.get(_change_url(update))
    assert "Name the three centres that are open." in page.content.decode()
    response = client.post(
        _change_url(update), change_form_data(page, narrative="Centres in Leeds, Bristol and Glasgow are open.")
    )
    assert response.status_code == 302
    client.post(_transition_url(update, "submit"))

    # The reviewer approves; the commitment's delivery state changes.
    commitment.refresh_from_db()
    assert (commitment.delivery_status, commitment.delivery_confidence) == state_before
    _login(client, reviewer)
    client.post(_transition_url(update, "approve"))
    update.refresh_from_db()
    commitment.refresh_from_db()
    assert update.state == UpdateState.APPROVED
    assert (commitment.delivery_status, commitment.delivery_confidence, commitment.progress) == (
        "in_progress",
        "amber",
        40,
    )
    assert commitment.delivery_as_of == date(2019, 6, 30)

    # The history shows every step, who took it and what changed.
    history = client.get(reverse("admin:commitments_statusupdate_history", args=[update.pk])).content.decode()
    for reason in ("Draft written", "Submitted for review", "Returned to author", "Draft edited", "Approved"):
        assert reason in history
    assert "erin" in history
    assert "rory" in history
    assert "Centres in Leeds, Bristol and Glasgow are open." in history
    commitment_history = client.get(
        reverse("admin:commitments_commitment_history", args=[commitment.pk])
    ).content.decode()
    assert "Delivery state derived from approved updates" in commitment_history
    assert "rory" in commitment_history


def test_nobody_approves_their_own_update(client, user_with_role, commitment):
    reviewer = user_with_role(roles.REVIEWER)
    update = update_create(
        commitment=commitment, author=reviewer, as_of=date(2019, 6, 30), status="in_progress", narrative="Mine."
    )
    update_submit(update=update, user=reviewer)
    _login(client, reviewer)
    assert "lsis-workflow-approve" not in client.get(_change_url(update)).content.decode()
    response = client.post(_transition_url(update, "approve"), follow=True)
    assert "You wrote this update, so someone else must approve it." in response.content.decode()
    update.refresh_from_db()
    assert update.state == UpdateState.SUBMITTED


def test_an_approved_update_is_never_edited_or_deleted(client, user_with_role, commitment):
    editor, reviewer = user_with_role(roles.EDITOR), user_with_role(roles.REVIEWER)
    update = update_create(
        commitment=commitment, author=editor, as_of=date(2019, 6, 30), status="delivered", narrative="Done."
    )
    update_approve(update=update_submit(update=update, user=editor), reviewer=reviewer)
    for user in (editor, reviewer):
        _login(client, user)
        page = client.get(_change_url(update)).content.decode()
        assert 'name="_save"' not in page
        assert client.post(_change_url(update), {"narrative": "Changed."}).status_code == 403
        assert (
            client.post(reverse("admin:commitments_statusupdate_delete", args=[update.pk]), {"post": "yes"}).status_code
            == 403
        )
    update.refresh_from_db()
    assert update.narrative == "Done."


def test_a_correction_supersedes_the_approved_update(user_with_role, commitment):
    editor, reviewer = user_with_role(roles.EDITOR), user_with_role(roles.REVIEWER)
    first = update_create(
        commitment=commitment, author=editor, as_of=date(2019, 6, 30), status="delivered", narrative="Done."
    )
    update_approve(update=update_submit(update=first, user=editor), reviewer=reviewer)
    correction = update_create(
        commitment=commitment,
        author=editor,
        as_of=date(2019, 6, 30),
        status="in_progress",
        progress=80,
        narrative="Four of five centres open; the fifth opens in July.",
        supersedes=first,
    )
    update_approve(update=update_submit(update=correction, user=editor), reviewer=reviewer)
    commitment.refresh_from_db()
    assert (commitment.delivery_status, commitment.progress) == ("in_progress", 80)
    assert list(first.superseded_by.all()) == [correction]


def test_a_back_dated_update_does_not_displace_a_later_one(user_with_role, commitment):
    editor, reviewer = user_with_role(roles.EDITOR), user_with_role(roles.REVIEWER)
    recent = update_create(
        commitment=commitment, author=editor, as_of=date(2020, 3, 31), status="delivered", narrative="All open."
    )
    update_approve(update=update_submit(update=recent, user=editor), reviewer=reviewer)
    late_but_older = update_create(
        commitment=commitment, author=editor, as_of=date(2019, 6, 30), status="in_progress", narrative="Back then."
    )
    update_approve(update=update_submit(update=late_but_older, user=editor), reviewer=reviewer)
    commitment.refresh_from_db()
    assert (commitment.delivery_status, commitment.delivery_as_of) == ("delivered", date(2020, 3, 31))


def test_dates_in_the_future_are_refused(client, user_with_role, commitment):
    _login(client, user_with_role(roles.EDITOR))
    tomorrow = (timezone.localdate() + timedelta(days=1)).isoformat()
    response = client.post(reverse("admin:commitments_statusupdate_add"), _draft_data(commitment, as_of=tomorrow))
    assert "An update cannot be true as of a date in the future." in response.content.decode()
    assert not StatusUpdate.objects.filter(commitment=commitment, author__isnull=False).exists()


def test_a_stale_save_of_a_draft_is_refused_and_keeps_the_input(client, user_with_role, commitment):
    first, second = user_with_role(roles.EDITOR, username="fay"), user_with_role(roles.EDITOR, username="sam")
    update = update_create(
        commitment=commitment, author=first, as_of=date(2019, 6, 30), status="in_progress", narrative="Start."
    )
    url = _change_url(update)
    first_page = _login(client, first).get(url)
    from django.test import Client

    other = Client()
    second_page = _login(other, second).get(url)
    assert client.post(url, change_form_data(first_page, narrative="Fay's version.")).status_code == 302

    response = other.post(url, change_form_data(second_page, narrative="Sam's version."))
    page = response.content.decode()
    assert response.status_code == 200
    assert "was changed by fay at" in page
    assert "Sam&#x27;s version." in page  # the input is still on the form
    update.refresh_from_db()
    assert update.narrative == "Fay's version."

    # Having seen the conflict, a deliberate second save goes through.
    assert other.post(url, change_form_data(response, narrative="Sam's version.")).status_code == 302
    update.refresh_from_db()
    assert update.narrative == "Sam's version."


def test_a_stale_save_of_a_commitment_is_refused(client, user_with_role):
    commitment = Commitment.objects.get(reference="SD2-PEOPLE-G2")
    reviewer = user_with_role(roles.REVIEWER, username="ria")
    url = reverse("admin:commitments_commitment_change", args=[commitment.pk])
    stale_page = _login(client, reviewer).get(url)
    commitment.refresh_from_db()
    jobs = commitment.jobs
    commitment.jobs_text = "changed meanwhile"
    commitment.modified_by = user_with_role(roles.REVIEWER, username="max")
    commitment.save()
    response = client.post(url, change_form_data(stale_page, jobs="2021"))
    assert "was changed by max at" in response.content.decode()
    commitment.refresh_from_db()
    assert (commitment.jobs, commitment.jobs_text) == (jobs, "changed meanwhile")


def test_bulk_approval_asks_for_confirmation_and_respects_four_eyes(client, user_with_role, commitment):
    editor, reviewer = user_with_role(roles.EDITOR), user_with_role(roles.REVIEWER)
    theirs = update_submit(
        update=update_create(
            commitment=commitment, author=editor, as_of=date(2019, 6, 30), status="in_progress", narrative="A."
        ),
        user=editor,
    )
    own = update_submit(
        update=update_create(
            commitment=commitment, author=reviewer, as_of=date(2019, 9, 30), status="in_progress", narrative="B."
        ),
        user=reviewer,
    )
    _login(client, reviewer)
    data = {"action": "approve_selected", "_selected_action": [theirs.pk, own.pk]}
    confirmation = client.post(reverse(CHANGELIST), data)
    assert "Please confirm." in confirmation.content.decode()
    assert StatusUpdate.objects.get(pk=theirs.pk).state == UpdateState.SUBMITTED
    response = client.post(reverse(CHANGELIST), {**data, "confirm": "yes"}, follow=True)
    page = response.content.decode()
    assert "1 update(s) approved." in page
    assert "You wrote this update, so someone else must approve it." in page
    assert StatusUpdate.objects.get(pk=theirs.pk).state == UpdateState.APPROVED
    assert StatusUpdate.objects.get(pk=own.pk).state == UpdateState.SUBMITTED


def test_work_queues_list_my_drafts_and_what_awaits_my_review(client, user_with_role, commitment):
    editor, reviewer = user_with_role(roles.EDITOR), user_with_role(roles.REVIEWER)
    draft = update_create(
        commitment=commitment, author=editor, as_of=date(2019, 6, 30), status="in_progress", narrative="D."
    )
    submitted = update_submit(
        update=update_create(
            commitment=commitment, author=editor, as_of=date(2019, 9, 30), status="in_progress", narrative="S."
        ),
        user=editor,
    )
    own_submitted = update_submit(
        update=update_create(
            commitment=commitment, author=reviewer, as_of=date(2019, 12, 31), status="in_progress", narrative="R."
        ),
        user=reviewer,
    )
    _login(client, editor)
    mine = client.get(reverse(CHANGELIST) + "?queue=mine").context["cl"].result_list
    assert list(mine) == [draft]
    assert "My drafts and returned updates" in client.get(reverse("admin:index")).content.decode()
    _login(client, reviewer)
    awaiting = client.get(reverse(CHANGELIST) + "?queue=review").context["cl"].result_list
    assert list(awaiting) == [submitted]
    assert own_submitted not in awaiting
    index = client.get(reverse("admin:index")).content.decode()
    assert "Awaiting my review" in index


def test_overdue_and_stale_filters(client_for):
    client = client_for(roles.BOARD_MEMBER)
    url = reverse("admin:commitments_commitment_changelist")
    overdue = {c.reference for c in client.get(url + "?overdue=yes").context["cl"].result_list}
    expected = set(
        Commitment.objects.filter(rules.overdue_condition(on=timezone.localdate())).values_list("reference", flat=True)[
            :50
        ]
    )
    assert overdue == expected
    assert overdue, "the seeded data has targets long past"
    assert all(
        c.target_date is not None
        and c.target_date < timezone.localdate()
        and c.delivery_status not in ("delivered", "not_being_pursued")
        for c in Commitment.objects.filter(reference__in=overdue)
    )
    stale = client.get(url + "?stale=yes").context["cl"]
    assert stale.result_count == Commitment.objects.count()  # no approved update this quarter yet

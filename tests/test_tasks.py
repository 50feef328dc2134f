"""My tasks: the page (/tasks/), the ``tasks`` command, the admin's home, and owners assigned in the admin.

What is due comes from the quarterly cycle (``metrics.update_cycle``): on 18 November 2026 the cycle is
2026-27 Q2 (July to September), whose updates were due by 14 October 2026.
"""

from __future__ import annotations

from datetime import date, datetime
from io import StringIO
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse

from commitments import roles
from commitments.delivery_plan import baseline_change_request, milestone_create
from commitments.models import (
    Commitment,
    Organisation,
    OrganisationRole,
    PartnerMembership,
    StatusUpdate,
    Theme,
    ThemeKind,
)
from commitments.ownership import commitment_assign_owners
from commitments.proposals import partner_membership_save, proposal_create, proposal_decline
from commitments.services import update_create, update_return, update_submit
from lsis.core.models import StaffProfile
from tests.admin_forms import change_form_data

pytestmark = pytest.mark.django_db

LONDON = ZoneInfo("Europe/London")
AFTER_DUE = datetime(2026, 11, 18, 10, 0, tzinfo=LONDON)  # 35 days after the due day
BEFORE_DUE = datetime(2026, 10, 5, 10, 0, tzinfo=LONDON)
QUARTER_END = date(2026, 9, 30)
TASKS = "/tasks/"


def _commitment(reference: str) -> Commitment:
    return Commitment.objects.get(reference=reference)


@pytest.fixture
def people(user_with_role: Any) -> dict[str, Any]:
    """Two editors, two reviewers, a board member and a partner."""
    return {
        "editor": user_with_role(roles.EDITOR, first_name="Eda", last_name="Editor"),
        "other_editor": user_with_role(roles.EDITOR),
        "reviewer": user_with_role(roles.REVIEWER, first_name="Rui", last_name="Reviewer"),
        "other_reviewer": user_with_role(roles.REVIEWER),
        "board": user_with_role(roles.BOARD_MEMBER),
        "partner": user_with_role(roles.PARTNER),
    }


def _client(user: Any, **options: Any) -> Client:
    client = Client(**options)
    client.force_login(user)
    return client


def _assign(people: dict[str, Any], references: list[str], owner: Any, contributors: list[Any] = ()) -> int:  # type: ignore[assignment]
    return commitment_assign_owners(
        commitments=Commitment.objects.filter(reference__in=references),
        owner=owner,
        contributors=contributors,
        user=people["reviewer"],
    )


def _command(username: str, day: str | None = None) -> str:
    out = StringIO()
    call_command("tasks", username, *(["--date", day] if day else []), stdout=out)
    return out.getvalue()


# --- updates due on commitments I own or contribute to ------------------------------------------------


def test_updates_due_are_listed_with_the_due_day_days_overdue_and_a_prefilled_link(people: dict[str, Any]) -> None:
    editor = people["editor"]
    _assign(people, ["SD2-IDEAS-HARP-G2"], editor)
    _assign(people, ["SD2-IDEAS-HARP-G3"], people["other_editor"], [editor])
    g2 = _commitment("SD2-IDEAS-HARP-G2")
    with time_machine.travel(AFTER_DUE, tick=False):
        page = _client(editor).get(TASKS)
    assert page.status_code == 200
    html = page.content.decode()
    assert "Updates due for 2026-27 Q2" in html
    assert "SD2-IDEAS-HARP-G2" in html
    assert "SD2-IDEAS-HARP-G3" in html
    assert "14 October 2026" in html
    assert "35 days overdue" in html
    assert "Overdue</strong>" in html
    assert "You contribute" in html  # G3: a contributor sees it, marked as such
    add = reverse("admin:commitments_statusupdate_add")
    assert f"{add}?commitment={g2.pk}&amp;as_of=2026-09-30" in html
    # The link opens the admin's form with the commitment and the quarter's last day filled in.
    form = _client(editor).get(f"{add}?commitment={g2.pk}&as_of=2026-09-30").context["adminform"].form
    assert str(form.initial["commitment"]) == str(g2.pk)
    assert str(form.initial["as_of"]) == "2026-09-30"


def test_an_update_waiting_for_review_is_tagged_and_linked_and_an_approved_one_is_no_longer_due(
    people: dict[str, Any],
) -> None:
    editor = people["editor"]
    _assign(people, ["SD2-IDEAS-HARP-G2", "SD2-IDEAS-HARP-G4"], editor)
    update = update_create(
        commitment=_commitment("SD2-IDEAS-HARP-G2"),
        author=editor,
        as_of=QUARTER_END,
        status="in_progress",
        narrative="Test narrative.",
    )
    update_submit(update=update, user=editor)
    out = _command(editor.username, "2026-11-18")
    assert "[Waiting for review] SD2-IDEAS-HARP-G2" in out
    assert reverse("admin:commitments_statusupdate_change", args=[update.pk]) in out
    assert "[Overdue] SD2-IDEAS-HARP-G4" in out


def test_the_command_prints_due_before_the_due_day_and_overdue_after(people: dict[str, Any]) -> None:
    editor = people["editor"]
    _assign(people, ["SD2-IDEAS-HARP-G2"], editor)
    before = _command(editor.username, "2026-10-05")
    assert "Updates for 2026-27 Q2 are due by 14 October 2026." in before
    assert "[Due] SD2-IDEAS-HARP-G2" in before
    assert "overdue" not in before.split("[Due]")[1].split("\n")[0]
    after = _command(editor.username, "2026-11-18")
    assert "[Overdue] SD2-IDEAS-HARP-G2" in after
    assert "35 days overdue" in after
    assert f"commitment={_commitment('SD2-IDEAS-HARP-G2').pk}&as_of=2026-09-30" in after


def test_the_command_refuses_an_unknown_user_a_partner_and_a_bad_date(people: dict[str, Any]) -> None:
    with pytest.raises(CommandError, match="No user"):
        _command("nobody-by-this-name")
    with pytest.raises(CommandError, match="not a member of staff"):
        _command(people["partner"].username)
    with pytest.raises(CommandError, match="YYYY-MM-DD"):
        _command(people["editor"].username, "18/11/2026")


# --- milestones ----------------------------------------------------------------------------------------


def test_milestones_overdue_and_due_in_the_next_fourteen_days_that_i_own(people: dict[str, Any]) -> None:
    editor, reviewer = people["editor"], people["reviewer"]
    commitment = _commitment("SD2-IDEAS-HARP-G4")
    for title, due_on, done_on, owner in [
        ("Overdue step", date(2026, 11, 10), None, editor),
        ("Soon step", date(2026, 11, 25), None, editor),
        ("Later step", date(2026, 12, 20), None, editor),
        ("Done step", date(2026, 11, 1), date(2026, 10, 30), editor),
        ("Colleague's step", date(2026, 11, 12), None, people["other_editor"]),
    ]:
        milestone_create(commitment=commitment, title=title, due_on=due_on, done_on=done_on, owner=owner, user=reviewer)
    out = _command(editor.username, "2026-11-18")
    section = out.split("Milestones overdue or due in the next 14 days (2)")[1].split("\n\n")[0]
    assert "[Overdue] SD2-IDEAS-HARP-G4: Overdue step, due 10 November 2026, 8 days overdue" in section
    assert "[Due soon] SD2-IDEAS-HARP-G4: Soon step, due 25 November 2026" in section
    assert "Later step" not in out
    assert "Done step" not in out
    assert "Colleague's step" not in out
    assert reverse("admin:commitments_commitment_change", args=[commitment.pk]) in section


# --- my drafts, updates returned to me, reviews waiting for me ---------------------------------------------


def _update(author: Any, reference: str, *, submit: bool = False) -> StatusUpdate:
    update = update_create(
        commitment=_commitment(reference), author=author, as_of=QUARTER_END, status="in_progress", narrative="Test."
    )
    return update_submit(update=update, user=author) if submit else update


def test_drafts_returned_updates_and_reviews_each_go_to_the_right_person(people: dict[str, Any]) -> None:
    editor, reviewer, other_reviewer = people["editor"], people["reviewer"], people["other_reviewer"]
    draft = _update(editor, "SD2-IDEAS-HARP-G1")
    returned = _update(editor, "SD2-IDEAS-HARP-G2", submit=True)
    update_return(update=returned, reviewer=reviewer, reason="Say what has been spent so far.")
    waiting = _update(editor, "SD2-IDEAS-HARP-G3", submit=True)
    own = _update(reviewer, "SD2-IDEAS-HARP-G4", submit=True)

    with time_machine.travel(datetime(2026, 12, 9, 10, 0, tzinfo=LONDON), tick=False):
        mine = _client(editor).get(TASKS).content.decode()
        theirs = _client(reviewer).get(TASKS).content.decode()
        colleague = _client(other_reviewer).get(TASKS).content.decode()

    change = "admin:commitments_statusupdate_change"
    assert reverse(change, args=[draft.pk]) in mine
    assert "Draft</strong>" in mine
    assert reverse(change, args=[returned.pk]) in mine
    assert "Say what has been spent so far." in mine
    assert "Updates waiting for my review" not in mine  # an editor reviews nothing
    # The reviewer reviews the editor's update, with its age, and never their own (four eyes).
    reviews = theirs.split('id="reviews"')[1].split('<div class="govuk-summary-card"')[0]
    assert reverse(change, args=[waiting.pk]) in reviews
    assert reverse(change, args=[own.pk]) not in reviews
    assert "by Eda Editor" in reviews
    # Submitted on the day the test runs, seen on 9 December 2026: its age is in days.
    age = (date(2026, 12, 9) - waiting.submitted_at.astimezone(LONDON).date()).days  # type: ignore[union-attr]
    assert f"{age} day{'' if age == 1 else 's'}</td>" in reviews
    assert "Waiting for review</strong>" in reviews
    assert reverse(change, args=[own.pk]) in colleague
    assert reverse(change, args=[draft.pk]) not in theirs  # someone else's draft is not the reviewer's task


def test_changes_of_deadline_wait_for_those_who_decide_them_but_not_for_whoever_asked(people: dict[str, Any]) -> None:
    commitment = _commitment("SD2-IDEAS-HARP-G3")
    change = baseline_change_request(
        commitment=commitment,
        proposed_date=date(2027, 3, 31),
        reason="The contract was signed late.",
        user=people["reviewer"],
    )
    url = reverse("admin:commitments_baselinechange_change", args=[change.pk])
    colleague = _client(people["other_reviewer"]).get(TASKS).content.decode()
    assert url in colleague
    assert "Move the deadline to 31 March 2027" in colleague
    assert "The contract was signed late." in colleague
    asker = _client(people["reviewer"]).get(TASKS).content.decode()
    assert "Changes of deadline waiting for my decision" in asker
    assert url not in asker
    editor = _client(people["editor"]).get(TASKS).content.decode()
    assert "Changes of deadline waiting for my decision" not in editor
    assert url not in editor


def test_partners_proposals_wait_for_the_reviewers(people: dict[str, Any], user_with_role: Any) -> None:
    partner = user_with_role(roles.PARTNER)
    wellcome = Organisation.objects.get(name="Wellcome Trust")
    partner_membership_save(membership=PartnerMembership(user=partner, organisation=wellcome), user=people["reviewer"])
    proposal = proposal_create(
        author=partner,
        commitment=_commitment("SD2-IDEAS-HARP-S2"),
        as_of=date(2026, 9, 30),
        status="in_progress",
        narrative="The first awards have been made.",
    )
    url = reverse("admin:commitments_proposal_change", args=[proposal.pk])
    reviewer = _client(people["reviewer"]).get(TASKS).content.decode()
    assert "Partners&#x27; proposals waiting for my decision" in reviewer
    assert url in reviewer
    assert "proposed by Wellcome Trust" in reviewer
    editor = _client(people["editor"]).get(TASKS).content.decode()
    assert "proposals waiting for my decision" not in editor
    proposal_decline(proposal=proposal, reviewer=people["reviewer"], reason="Please add the awards' dates.")
    assert url not in _client(people["other_reviewer"]).get(TASKS).content.decode()


# --- who may see the page ----------------------------------------------------------------------------------


def test_staff_only_and_only_their_own_tasks(people: dict[str, Any]) -> None:
    _assign(people, ["SD2-IDEAS-HARP-G2"], people["other_editor"])
    anonymous = Client().get(TASKS)
    assert anonymous.status_code == 302
    assert "/accounts/login/" in anonymous["Location"]
    assert _client(people["partner"]).get(TASKS).status_code == 403
    board = _client(people["board"]).get(TASKS)
    assert board.status_code == 200
    assert "My drafts" not in board.content.decode()
    # There is no way to ask for someone else's list: a parameter naming them is ignored.
    editor = _client(people["editor"]).get(TASKS, {"user": people["other_editor"].pk})
    assert editor.status_code == 200
    assert "SD2-IDEAS-HARP-G2" not in editor.content.decode()
    assert "SD2-IDEAS-HARP-G2" in _client(people["other_editor"]).get(TASKS).content.decode()


def test_the_header_links_to_my_tasks_for_staff(people: dict[str, Any]) -> None:
    html = _client(people["editor"]).get("/").content.decode()
    assert 'href="/tasks/"' in html
    page = _client(people["editor"]).get(TASKS).content.decode()
    assert 'href="/tasks/" aria-current="page"' in page


def test_nothing_to_do(people: dict[str, Any]) -> None:
    html = _client(people["reviewer"]).get(TASKS).content.decode()
    assert "Nothing to do today." in html
    assert "Nothing to do: no update is waiting for your review." in html


# --- my preferences ------------------------------------------------------------------------------------------


def test_the_preference_form_saves_my_reminders_and_team(people: dict[str, Any]) -> None:
    editor = people["editor"]
    client = _client(editor)
    response = client.post(TASKS, {"reminder_frequency": "weekly", "team": "  Genomics   team "})
    assert response.status_code == 302
    profile = StaffProfile.objects.get(user=editor)
    assert (profile.reminder_frequency, profile.team) == ("weekly", "Genomics team")
    page = client.get(response["Location"]).content.decode()
    assert "Your preferences have been saved." in page
    assert 'value="weekly" checked' in page
    assert 'value="Genomics team"' in page


def test_the_preference_form_shows_a_govuk_error_summary_and_saves_nothing(people: dict[str, Any]) -> None:
    editor = people["editor"]
    response = _client(editor).post(TASKS, {"reminder_frequency": "hourly", "team": "x" * 201})
    assert response.status_code == 400
    html = response.content.decode()
    assert "govuk-error-summary" in html
    assert "There is a problem" in html
    assert 'href="#reminder_frequency"' in html
    assert 'href="#team"' in html
    assert "Team must be 200 characters or fewer" in html
    assert "<title>Error: My tasks" in html
    assert not StaffProfile.objects.filter(user=editor).exists()
    assert _client(editor).post(TASKS, {"team": "A team"}).status_code == 400  # a frequency is required


def test_the_preference_form_needs_the_csrf_token(people: dict[str, Any]) -> None:
    client = _client(people["editor"], enforce_csrf_checks=True)
    assert client.post(TASKS, {"reminder_frequency": "none"}).status_code == 403
    assert not StaffProfile.objects.filter(user=people["editor"]).exists()


# --- the admin: home page counts, owners on the form, and the bulk page ------------------------------------


def test_the_admin_home_shows_my_task_counts(people: dict[str, Any]) -> None:
    _assign(people, ["SD2-IDEAS-HARP-G2", "SD2-IDEAS-HARP-G4"], people["editor"])
    with time_machine.travel(AFTER_DUE, tick=False):
        html = _client(people["editor"]).get(reverse("admin:index")).content.decode()
    assert 'id="lsis-my-tasks"' in html
    assert 'href="/tasks/"' in html
    assert 'href="/tasks/#updates">Updates due for 2026-27 Q2</a></th>\n        <td>2</td>' in html


def _assign_page() -> str:
    return reverse("admin:commitments_commitment_assign_owners")


def test_a_reviewer_assigns_an_area_s_commitments_after_confirming_the_count(people: dict[str, Any]) -> None:
    reviewer, editor, helper = people["reviewer"], people["editor"], people["other_editor"]
    area = Theme.objects.get(kind=ThemeKind.AREA, code="HARP")
    expected = Commitment.objects.filter(area=area).count()
    client = _client(reviewer)
    changelist = client.get(reverse("admin:commitments_commitment_changelist")).content.decode()
    assert _assign_page() in changelist
    assert client.get(_assign_page()).status_code == 200
    choice = {"area": area.pk, "owner": editor.pk, "contributors": [helper.pk]}
    confirm = client.post(_assign_page(), choice)
    assert confirm.status_code == 200
    assert f"{expected} commitments will be owned by" in confirm.content.decode()
    assert not Commitment.objects.filter(owner=editor).exists()  # nothing changes before confirming
    done = client.post(_assign_page(), {**choice, "confirm": "yes"})
    assert done.status_code == 302
    owned = Commitment.objects.filter(owner=editor)
    assert owned.count() == expected == Commitment.objects.filter(area=area, contributors=helper).count()
    latest = owned.first().history.first()  # type: ignore[union-attr]
    assert latest.history_user == reviewer
    assert "Owner and contributors assigned" in latest.history_change_reason
    listed = client.get(done["Location"]).content.decode()
    assert f"{expected} commitments now owned by {editor.username}" in listed


def test_assigning_by_lead_organisation_and_refusing_both_or_neither(people: dict[str, Any]) -> None:
    organisation = Organisation.objects.filter(involvements__role=OrganisationRole.LEAD).order_by("name").first()
    assert organisation is not None
    expected = Commitment.objects.filter(
        involvements__organisation=organisation, involvements__role=OrganisationRole.LEAD
    ).distinct()
    client = _client(people["reviewer"])
    response = client.post(
        _assign_page(), {"organisation": organisation.pk, "owner": people["editor"].pk, "confirm": "yes"}
    )
    assert response.status_code == 302
    assert set(Commitment.objects.filter(owner=people["editor"])) == set(expected)
    area = Theme.objects.filter(kind=ThemeKind.AREA).first()
    both = client.post(_assign_page(), {"organisation": organisation.pk, "area": area.pk, "owner": people["editor"].pk})  # type: ignore[union-attr]
    assert "Choose either an area or a lead organisation" in both.content.decode()
    partner_owner = client.post(_assign_page(), {"area": area.pk, "owner": people["partner"].pk})  # type: ignore[union-attr]
    assert "errornote" in partner_owner.content.decode()  # only staff may own commitments


def test_the_bulk_page_is_refused_to_editors_and_board_members(people: dict[str, Any]) -> None:
    area = Theme.objects.get(kind=ThemeKind.AREA, code="HARP")
    for role in ("editor", "board"):
        client = _client(people[role])
        assert client.get(_assign_page()).status_code == 403
        data = {"area": area.pk, "owner": people[role].pk, "confirm": "yes"}
        assert client.post(_assign_page(), data).status_code == 403
    assert not Commitment.objects.filter(owner__isnull=False).exists()
    changelist = _client(people["editor"]).get(reverse("admin:commitments_commitment_changelist")).content.decode()
    assert _assign_page() not in changelist


def test_the_commitment_form_sets_owner_and_contributors_through_the_service(people: dict[str, Any]) -> None:
    commitment = _commitment("SD2-IDEAS-HARP-G2")
    client = _client(people["reviewer"])
    url = reverse("admin:commitments_commitment_change", args=[commitment.pk])
    data = change_form_data(client.get(url), owner=people["editor"].pk, contributors=[people["other_editor"].pk])
    response = client.post(url, data)
    assert response.status_code == 302, response.context and response.context["adminform"].form.errors
    commitment.refresh_from_db()
    assert commitment.owner == people["editor"]
    assert list(commitment.contributors.all()) == [people["other_editor"]]
    assert "Owner and contributors assigned" in commitment.history.first().history_change_reason
    # An editor sees the owner but cannot change it.
    editor_form = _client(people["editor"]).get(url)
    assert "owner" not in editor_form.context["adminform"].form.fields


def test_staff_profile_on_the_user_admin(user_with_role: Any, people: dict[str, Any]) -> None:
    administrator = user_with_role(roles.ADMINISTRATOR)
    client = _client(administrator)
    url = reverse("admin:auth_user_change", args=[people["editor"].pk])
    page = client.get(url)
    assert "team and reminders" in page.content.decode().lower()
    data = change_form_data(page, **{"staff_profile-0-team": "Genomics", "staff_profile-0-reminder_frequency": "none"})
    # The split date-and-time widget posts two fields, which the helper does not build.
    data.pop("date_joined", None)
    data.update({"date_joined_0": "2026-01-05", "date_joined_1": "09:00:00"})
    response = client.post(url, data)
    assert response.status_code == 302
    profile = StaffProfile.objects.get(user=people["editor"])
    assert (profile.team, profile.reminder_frequency) == ("Genomics", "none")
    # A partner is not staff: no profile to set.
    assert (
        "team and reminders"
        not in client.get(reverse("admin:auth_user_change", args=[people["partner"].pk])).content.decode().lower()
    )


# --- a constant number of queries ------------------------------------------------------------------------


def _load(people: dict[str, Any], size: int) -> None:
    editor, reviewer = people["editor"], people["reviewer"]
    references = list(
        Commitment.objects.filter(reference__startswith="SD2-IDEAS-HARP")
        .order_by("reference")
        .values_list("reference", flat=True)[:size]
    )
    _assign(people, references, editor, [people["other_editor"]])
    for index, reference in enumerate(references):
        milestone_create(
            commitment=_commitment(reference),
            title=f"Step {index}",
            due_on=date(2026, 11, 10),
            owner=editor,
            user=reviewer,
        )
        update = _update(people["other_editor"], reference, submit=index % 2 == 0)
        if index % 2:
            update_submit(update=update, user=people["other_editor"])
            update_return(update=update, reviewer=people["other_reviewer"], reason="Again.")


@pytest.mark.parametrize("size", [2, 12])
def test_the_page_reads_a_fixed_number_of_queries_whatever_the_number_of_tasks(
    people: dict[str, Any], size: int, django_assert_max_num_queries: Any
) -> None:
    _load(people, size)
    for person in ("editor", "reviewer", "other_editor"):
        client = _client(people[person])
        with time_machine.travel(AFTER_DUE, tick=False), django_assert_max_num_queries(13):
            response = client.get(TASKS)
        assert response.status_code == 200
    out = _command(people["editor"].username, "2026-11-18")
    assert f"Milestones overdue or due in the next 14 days ({size})" in out


# --- the demo users' tasks ---------------------------------------------------------------------------------


def test_the_demo_users_get_tasks_and_a_second_run_changes_nothing() -> None:
    for _ in range(2):
        call_command("create_demo_users", stdout=StringIO())
    harp = Commitment.objects.filter(deal__code="SD2", area__code="HARP")
    assert set(Commitment.objects.filter(owner__username="editor")) == set(harp)
    demo = StatusUpdate.objects.filter(author__username="editor")
    assert demo.count() == 1  # once, however often the command runs
    update = demo.get()
    assert update.state == "submitted"
    assert update.narrative.startswith("DEMO TEXT")
    # It claims nothing new: the commitment's current state, restated.
    assert (update.status, update.confidence, update.progress) == (
        update.commitment.delivery_status,
        update.commitment.delivery_confidence,
        update.commitment.progress,
    )
    reviewer_tasks = _command("reviewer")
    assert (
        f"[Waiting for review] {update.commitment.reference}"
        in reviewer_tasks.split("Updates waiting for my review")[1]
    )
    editor_tasks = _command("editor", "2026-11-18")
    assert "[Overdue] SD2-IDEAS-HARP-G2" in editor_tasks

"""Edits of commitments reach the figures at once, through the admin, as approvals do.

After each kind of edit (target date, area, themes through the classification, organisations, programmes,
deal, a deal's publication date, a funding amount added, changed or deleted) the stored figures equal a
full recompute and the plain-Python oracle of ``tests/test_metrics.py``, with no nightly rebuild: on the
embedded default the recompute runs as the edit commits.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.urls import reverse

from commitments import roles
from commitments.models import (
    Commitment,
    Document,
    Organisation,
    OrganisationRole,
    StatusUpdate,
    Theme,
    ThemeException,
    ThemeKind,
)
from commitments.periods import Quarter
from commitments.services import commitment_set_published
from metrics.models import RecomputeMarker
from metrics.rules import Population
from metrics.services import metrics_recompute
from programmes.models import AmountNature, AmountQualifier, FundingAmount, Programme
from tests.admin_forms import change_form_data
from tests.helpers import first
from tests.test_celery_reliability import needs_real_worker
from tests.test_metrics import CHECKED, oracle, stored

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eager_tasks")]


@pytest.fixture
def eager_tasks(settings):
    """Run tasks in-process, as the embedded default does, even when the suite runs with a broker."""
    settings.CELERY_TASK_ALWAYS_EAGER = True


def _figures():
    return {quarter: stored(quarter) for quarter in CHECKED}


@pytest.fixture
def figures_follow(commit):
    """Compute the checked quarters, run the edit as a request commits, and check the figures followed.

    Yields a runner: ``edit()`` is called with the commit callbacks executed (the eager recompute); the
    figures must then differ from before where the edit moves them, equal the oracle, and a full
    recompute must leave them as they are.
    """
    metrics_recompute(quarters=CHECKED)

    def run(edit, *, moves=True):
        before = _figures()
        edit()
        commit()  # what the request's transaction runs as it commits: the eager recompute
        assert not RecomputeMarker.objects.exists()
        after = _figures()
        if moves:
            assert after != before, "the edit should have moved some figure"
        for quarter in CHECKED:
            assert after[quarter] == oracle(quarter), quarter.label
        # The key commitments' figures, kept beside them, follow too.
        key = {quarter: stored(quarter, population=Population.KEY) for quarter in CHECKED}
        for quarter in CHECKED:
            assert key[quarter] == oracle(quarter, Population.KEY), quarter.label
        metrics_recompute(quarters=CHECKED)
        assert _figures() == after
        assert {quarter: stored(quarter, population=Population.KEY) for quarter in CHECKED} == key
        return after

    return run


def _counted(**filters) -> Commitment:
    """A published Sector Deal 2 commitment, with no links that would stop it moving deal."""
    return first(
        Commitment.objects.filter(deal__code="SD2", published=True, **filters)
        .filter(parent__isnull=True, elaborates__isnull=True, continues__isnull=True)
        .exclude(children__isnull=False)
        .exclude(elaborated_by__isnull=False)
        .exclude(continued_by__isnull=False)
        .order_by("reference")
    )


def _post_change_form(client, user, commitment, **changes):
    client.force_login(user)
    url = reverse("admin:commitments_commitment_change", args=[commitment.pk])
    response = client.post(url, change_form_data(client.get(url), **changes))
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else response
    return response


def test_moving_the_target_date_moves_overdue_from_the_earlier_date(client, user_with_role, figures_follow):
    commitment = _counted(delivery_status="not_started")
    assert commitment is not None
    reviewer = user_with_role(roles.REVIEWER)

    def move() -> None:
        # A published deadline moves by a request (commitments.delivery_plan); a correction of the printed one is
        # made while the commitment is withdrawn from partners, and published again with the same save.
        commitment_set_published(commitment=commitment, user=reviewer, published=False)
        _post_change_form(client, reviewer, commitment, target_date="2019-05-01", published="on")

    after = figures_follow(move)
    tracker = after[CHECKED[-1]][("tracker", "all")]
    assert tracker["overdue"] >= 1
    commitment.refresh_from_db()
    assert commitment.target_date == date(2019, 5, 1)


def test_moving_area_moves_the_commitment_between_areas(client, user_with_role, figures_follow):
    commitment = _counted(area__isnull=False)
    assert commitment.area is not None
    other = Theme.objects.filter(kind=ThemeKind.AREA, parent=commitment.foundation).exclude(pk=commitment.area.pk)
    new_area = other.first()
    assert new_area is not None
    old_key, new_key = ("area", commitment.area.code), ("area", new_area.code)
    before = stored(CHECKED[-1])
    after = figures_follow(
        lambda: _post_change_form(client, user_with_role(roles.REVIEWER), commitment, area=new_area.pk)
    )
    assert after[CHECKED[-1]].get(old_key, {}).get("commitments", 0) == before[old_key]["commitments"] - 1
    assert after[CHECKED[-1]][new_key]["commitments"] == before.get(new_key, {}).get("commitments", 0) + 1


def test_changing_the_classification_moves_the_theme_scopes(client, user_with_role, figures_follow):
    """The themes are the classification's, not the commitment form's: a reviewer's exceptions move them."""
    commitment = _counted()
    held = set(commitment.themes.all())
    themes = Theme.objects.filter(kind=ThemeKind.THEME).exclude(commitments=commitment)
    first, second = themes.order_by("framework__code", "position")[:2]
    client.force_login(user_with_role(roles.REVIEWER))
    quarter = CHECKED[-1]

    def count(figures, theme):
        return figures.get(("theme", str(theme.uuid)), {}).get("commitments", 0)

    def include(theme):
        url = reverse("admin:commitments_themeexception_add")
        data = change_form_data(client.get(url), commitment=commitment.pk, theme=theme.pk, include="on")
        response = client.post(url, {**data, "reason": "Classified under it by a reviewer."})
        assert response.status_code == 302, response.context["adminform"].form.errors if response.context else response

    def replace_first_with_second():
        exception = ThemeException.objects.get(commitment=commitment, theme=first)
        url = reverse("admin:commitments_themeexception_delete", args=[exception.pk])
        assert client.post(url, {"post": "yes"}).status_code == 302
        include(second)

    before = stored(quarter)
    after = figures_follow(lambda: include(first))
    assert count(after[quarter], first) == count(before, first) + 1
    after = figures_follow(replace_first_with_second)
    assert count(after[quarter], first) == count(before, first)  # no row where no commitment is left
    assert count(after[quarter], second) == count(before, second) + 1
    assert set(commitment.themes.all()) == held | {second}


def _inline_prefix(response, model):
    for inline in response.context["inline_admin_formsets"]:
        if inline.formset.model is model:
            return inline.formset.prefix, inline.formset
    raise AssertionError(f"no inline for {model}")


def _add_inline_row(client, user, commitment, model, values):
    client.force_login(user)
    url = reverse("admin:commitments_commitment_change", args=[commitment.pk])
    response = client.get(url)
    prefix, _ = _inline_prefix(response, model)
    data = change_form_data(response)
    index = int(data[f"{prefix}-TOTAL_FORMS"])
    data[f"{prefix}-TOTAL_FORMS"] = index + 1
    data.update({f"{prefix}-{index}-{name}": value for name, value in values.items()})
    response = client.post(url, data)
    assert response.status_code == 302, response.context and [
        inline.formset.errors for inline in response.context["inline_admin_formsets"]
    ]


def _delete_inline_row(client, user, commitment, model, row_pk):
    client.force_login(user)
    url = reverse("admin:commitments_commitment_change", args=[commitment.pk])
    response = client.get(url)
    prefix, formset = _inline_prefix(response, model)
    data = change_form_data(response)
    index = next(i for i, form in enumerate(formset.initial_forms) if form.instance.pk == row_pk)
    data[f"{prefix}-{index}-DELETE"] = "on"
    response = client.post(url, data)
    assert response.status_code == 302


def test_adding_and_removing_a_lead_organisation_moves_its_scope(client, user_with_role, figures_follow):
    from commitments.models import CommitmentOrganisation

    commitment = _counted()
    organisation = first(Organisation.objects.exclude(involvements__commitment=commitment).order_by("name"))
    reviewer = user_with_role(roles.REVIEWER)
    after = figures_follow(
        lambda: _add_inline_row(
            client,
            reviewer,
            commitment,
            CommitmentOrganisation,
            {"organisation": organisation.pk, "role": OrganisationRole.LEAD, "commitment": commitment.pk},
        )
    )
    assert after[CHECKED[-1]][("lead_organisation", str(organisation.uuid))]["commitments"] >= 1
    row = CommitmentOrganisation.objects.get(commitment=commitment, organisation=organisation)
    figures_follow(lambda: _delete_inline_row(client, reviewer, commitment, CommitmentOrganisation, row.pk))
    assert not CommitmentOrganisation.objects.filter(pk=row.pk).exists()


def test_linking_a_programme_moves_its_scope(client, user_with_role, figures_follow):
    commitment = _counted()
    programme = first(Programme.objects.exclude(commitments=commitment).order_by("name"))
    link = Programme.commitments.through
    figures_follow(
        lambda: _add_inline_row(
            client,
            user_with_role(roles.REVIEWER),
            commitment,
            link,
            {"programme": programme.pk, "commitment": commitment.pk},
        )
    )
    assert programme.commitments.filter(pk=commitment.pk).exists()


def test_linking_commitments_in_the_programme_admin_moves_its_scope(client, user_with_role, figures_follow):
    programme = first(Programme.objects.order_by("name"))
    commitment = _counted()
    client.force_login(user_with_role(roles.REVIEWER))
    url = reverse("admin:programmes_programme_change", args=[programme.pk])
    current = list(programme.commitments.values_list("pk", flat=True))

    def edit():
        response = client.post(url, change_form_data(client.get(url), commitments=[*current, commitment.pk]))
        assert response.status_code == 302

    figures_follow(edit)


def test_a_key_commitment_moved_to_a_chapter_leaves_the_key_commitments_figures(client, user_with_role, figures_follow):
    """Its section decides its kind, so which population counts it: the edit moves it out of the key figures."""
    commitment = _counted(section="key_commitments")
    quarter = CHECKED[-1]
    before = stored(quarter, population=Population.KEY)[("tracker", "all")]["commitments"]
    after = figures_follow(
        lambda: _post_change_form(client, user_with_role(roles.REVIEWER), commitment, section="chapter"),
        moves=False,  # everything still counts it: only the key commitments' figures move, checked below
    )
    assert stored(quarter, population=Population.KEY)[("tracker", "all")]["commitments"] == before - 1
    assert after[quarter] == oracle(quarter)  # still counted among everything


def test_moving_a_commitment_to_another_deal_moves_it_between_deals(client, user_with_role, figures_follow):
    commitment = _counted()
    sd1 = Document.objects.get(code="SD1")
    before = stored(CHECKED[-1])
    after = figures_follow(lambda: _post_change_form(client, user_with_role(roles.REVIEWER), commitment, deal=sd1.pk))
    assert after[CHECKED[-1]][("deal", "SD1")]["commitments"] == before[("deal", "SD1")]["commitments"] + 1


def test_moving_a_deals_publication_date_moves_every_quarter_its_commitments_count_in(
    client, user_with_role, figures_follow
):
    deal = Document.objects.get(code="SD2")
    client.force_login(user_with_role(None))  # only superusers change documents
    url = reverse("admin:commitments_document_change", args=[deal.pk])

    def edit():
        response = client.post(url, change_form_data(client.get(url), published_on="2019-08-01"))
        assert response.status_code == 302

    after = figures_follow(edit)
    # Sector Deal 2 now counts from 2019-20 Q2 on, not in the quarter before.
    assert ("deal", "SD2") not in after[CHECKED[1]]
    assert ("deal", "SD2") in after[CHECKED[2]]


def _amount_data(commitment, **values):
    return {
        "key": "TEST-EDIT-1",
        "amount_text": "£7m",
        "qualifier": AmountQualifier.EXACT,
        "low": "7000000",
        "high": "7000000",
        "nature": AmountNature.NEW_MONEY,
        "commitment": commitment.pk,
        "period_text": "",
        "source_document": commitment.deal_id,
        "source_quote": "£7m",
        **values,
    }


def test_adding_changing_and_deleting_a_funding_amount_moves_the_money(client, user_with_role, figures_follow):
    commitment = _counted()
    reviewer = user_with_role(roles.REVIEWER)
    client.force_login(reviewer)
    quarter, tracker = CHECKED[-1], ("tracker", "all")
    before = stored(quarter)[tracker]["new_money_low"]

    def add():
        response = client.post(reverse("admin:programmes_fundingamount_add"), _amount_data(commitment))
        assert response.status_code == 302, response.context["adminform"].form.errors

    assert figures_follow(add)[quarter][tracker]["new_money_low"] == before + Decimal(7_000_000)
    amount = FundingAmount.objects.get(key="TEST-EDIT-1")
    url = reverse("admin:programmes_fundingamount_change", args=[amount.pk])

    def change():
        response = client.post(url, change_form_data(client.get(url), low="9000000", high="9000000"))
        assert response.status_code == 302, response.context["adminform"].form.errors

    assert figures_follow(change)[quarter][tracker]["new_money_low"] == before + Decimal(9_000_000)
    client.force_login(user_with_role(None))  # deleting money is for superusers only

    def delete():
        response = client.post(reverse("admin:programmes_fundingamount_delete", args=[amount.pk]), {"post": "yes"})
        assert response.status_code == 302

    assert figures_follow(delete)[quarter][tracker]["new_money_low"] == before


# --- quarter sign-off: the service checks its permission, the admin asks first ---------------------------


def test_signing_a_quarter_off_is_refused_to_anyone_without_the_permission(user_with_role):
    from django.core.exceptions import PermissionDenied

    from commitments.periods import Quarter
    from metrics.models import ReportingQuarter
    from metrics.services import quarter_lock

    quarter = Quarter.from_label("2019-20 Q1")
    for role in (roles.EDITOR, roles.BOARD_MEMBER):
        with pytest.raises(PermissionDenied):
            quarter_lock(quarter=quarter, user=user_with_role(role))
    assert not ReportingQuarter.objects.filter(year=2019, number=1, locked_at__isnull=False).exists()
    assert quarter_lock(quarter=quarter, user=user_with_role(roles.REVIEWER)).is_locked


def test_the_admin_asks_for_confirmation_before_recording_a_sign_off(client, user_with_role):
    from commitments.periods import Quarter
    from metrics.services import reporting_quarters_ensure

    row = reporting_quarters_ensure()[Quarter.from_label("2019-20 Q1")]
    client.force_login(user_with_role(roles.REVIEWER))
    url = reverse("admin:metrics_reportingquarter_changelist")
    chosen = {"action": "sign_off_selected", "_selected_action": [row.pk]}
    response = client.post(url, chosen)
    assert response.status_code == 200
    assert b"Record the sign-off" in response.content
    assert b"2019-20 Q1" in response.content
    row.refresh_from_db()
    assert not row.is_locked  # nothing recorded until confirmed
    response = client.post(url, {**chosen, "confirm": "yes"})
    assert response.status_code == 302
    row.refresh_from_db()
    assert row.is_locked


# --- the incremental path after an edit: a fixed number of queries --------------------------------------


def _quarters_from(day, last):
    from commitments.periods import Quarter

    quarter, quarters = Quarter.containing(day), []
    while quarter <= last:
        quarters.append(quarter)
        quarter = quarter.next()
    return quarters


def test_processing_edits_runs_the_same_queries_for_one_commitment_as_for_several(
    user_with_role, django_assert_max_num_queries, django_capture_on_commit_callbacks
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from commitments.services import commitment_edit
    from metrics.services import markers_process

    # Rows for every quarter the commitments count in, so the set-based path for missing rows is not
    # what is measured.
    metrics_recompute(quarters=_quarters_from(date(2018, 12, 1), CHECKED[-1]))
    reviewer = user_with_role(roles.REVIEWER)
    commitments = list(
        Commitment.objects.filter(deal__code="SD2", published=True, area__isnull=False).order_by("reference")[:6]
    )

    def edit(batch):
        # A published commitment's deadline moves by a request (commitments.delivery_plan), so the edit measured
        # is one of its scopes: the side of the deal that made it.
        with django_capture_on_commit_callbacks(execute=False):
            for commitment in batch:
                actor = "government" if commitment.actor == "sector" else "sector"
                commitment_edit(commitment=commitment, user=reviewer, changes={"actor": actor})

    edit(commitments[:1])
    with CaptureQueriesContext(connection) as one:
        assert markers_process(today=CHECKED[-1].end) == 1
    edit(commitments[1:])
    with django_assert_max_num_queries(len(one)):
        assert markers_process(today=CHECKED[-1].end) == len(commitments) - 1
    for quarter in CHECKED:
        assert stored(quarter) == oracle(quarter), quarter.label


# --- a real worker: an edit is in the figures within the sweep --------------------------------------------

_EDIT_IN_SUBPROCESS = """
from datetime import date
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from commitments import roles
from commitments.models import Commitment
from commitments.services import commitment_edit, commitment_set_published
user = get_user_model().objects.create_user(username="edit-bench-reviewer-{pk}")
user.groups.add(Group.objects.get(name=roles.REVIEWER))
# A published deadline is corrected while withdrawn from partners (commitments.delivery_plan), then published.
commitment = commitment_set_published(commitment=Commitment.objects.get(pk={pk}), user=user, published=False)
commitment_edit(commitment=commitment, user=user, changes={{"target_date": date(2019, 5, 1)}})
commitment_set_published(commitment=commitment, user=user, published=True)
"""


@needs_real_worker
def test_an_edit_is_in_the_figures_within_the_sweep_with_a_real_worker(live) -> None:
    import time

    from tests.celery_worker import live_figure, manage, pending_markers, query, wait_until

    conn = live.connect()
    try:
        quarter = Quarter.containing(date.today())
        # A published, unfinished commitment of a published deal that is not overdue yet.
        pk = query(
            conn,
            "SELECT c.id FROM commitments_commitment c JOIN commitments_document d ON d.id = c.deal_id"
            " WHERE c.published AND d.published_on <= %s AND c.delivery_status IN ('not_started', 'in_progress')"
            " AND (c.target_date IS NULL OR c.target_date > %s) ORDER BY c.id LIMIT 1",
            [date.today(), date.today()],
        )[0][0]
        overdue = live_figure(conn, (quarter.year, quarter.number), "tracker", "all", "overdue")
        started = time.time()
        manage(live.env, "shell", "-c", _EDIT_IN_SUBPROCESS.format(pk=pk))

        def fresh() -> float | None:
            now = time.time()
            figure = live_figure(conn, (quarter.year, quarter.number), "tracker", "all", "overdue")
            return now if figure == overdue + 1 and pending_markers(conn, pk) == 0 else None

        fresh_at = wait_until(fresh, timeout=60, what="the edit to show in the figures")
    finally:
        conn.close()
    print(f"edit to fresh figures: {fresh_at - started:.3f} s (a Django start-up included)")
    assert fresh_at - started < 60  # within the per-minute sweep, even had the task been lost


# --- one statement per commitment and day: the same rule in the admin, the API and imports ------------------

SAME_DAY = date(2019, 9, 30)
SAME_DAY_REFERENCE = "SD2-PEOPLE-G3"
COLLEAGUES_DRAFT = "Grace Hopper already has a draft update for SD2-PEOPLE-G3 as of 30 September 2019."
APPROVED_ALREADY = "SD2-PEOPLE-G3 already has an approved update as of 30 September 2019."


@pytest.fixture
def colleagues_draft(user_with_role):
    from commitments.services import update_create

    colleague = user_with_role(roles.EDITOR, first_name="Grace", last_name="Hopper")
    return update_create(
        commitment=Commitment.objects.get(reference=SAME_DAY_REFERENCE),
        author=colleague,
        as_of=SAME_DAY,
        status="in_progress",
        narrative="Mine.",
    )


def _write_in_the_admin(client, commitment, supersedes=None):
    url = reverse("admin:commitments_statusupdate_add")
    data = change_form_data(client.get(url), commitment=commitment.pk, as_of=SAME_DAY.isoformat())
    data.update({"status": "in_progress", "narrative": "Also mine.", "supersedes": supersedes.pk if supersedes else ""})
    response = client.post(url, data)
    return response.status_code, str(response.context["adminform"].form.errors) if response.status_code == 200 else ""


def test_a_second_draft_of_the_same_day_is_refused_in_the_admin(client, user_with_role, colleagues_draft):
    client.force_login(user_with_role(roles.EDITOR))
    status, errors = _write_in_the_admin(client, colleagues_draft.commitment)
    assert status == 200
    assert COLLEAGUES_DRAFT in errors
    assert StatusUpdate.objects.filter(commitment=colleagues_draft.commitment, as_of=SAME_DAY).count() == 1


def test_a_second_draft_of_the_same_day_is_refused_by_the_api(api_for, colleagues_draft):
    response = api_for(roles.EDITOR).post(
        "/api/v1/updates/",
        {"commitment": SAME_DAY_REFERENCE, "as_of": SAME_DAY.isoformat(), "status": "in_progress", "narrative": "x"},
        format="json",
    )
    assert response.status_code == 409  # a conflict with the update already there
    assert COLLEAGUES_DRAFT in response.content.decode()
    assert f"as of {SAME_DAY:%-d %B %Y}" in response.json()["detail"]
    assert StatusUpdate.objects.filter(commitment=colleagues_draft.commitment, as_of=SAME_DAY).count() == 1


def test_a_second_draft_of_the_same_day_is_refused_by_an_import(client_for, colleagues_draft):
    from tests.test_import_export import _csv, _problems, _row, _upload

    row = _row(commitment=SAME_DAY_REFERENCE, as_of="30/09/2019", funding_spent="")
    problems = _problems(_upload(client_for(roles.EDITOR), _csv([row])))
    assert any(COLLEAGUES_DRAFT in message for message in problems[2]["as_of"])


def test_beside_an_approved_update_only_a_correction_is_written(client, user_with_role, colleagues_draft):
    from commitments.services import update_approve, update_submit

    update_submit(update=colleagues_draft, user=colleagues_draft.author)
    approved = update_approve(update=colleagues_draft, reviewer=user_with_role(roles.REVIEWER))
    client.force_login(user_with_role(roles.EDITOR))
    status, errors = _write_in_the_admin(client, approved.commitment)
    assert status == 200
    assert APPROVED_ALREADY in errors
    status, _ = _write_in_the_admin(client, approved.commitment, supersedes=approved)
    assert status == 302  # a correction shares the day of the update it corrects
    assert StatusUpdate.objects.filter(supersedes=approved, as_of=SAME_DAY).count() == 1


# Two people saving at the same moment both pass validation (neither sees the other's uncommitted draft);
# the database's one-in-progress-per-day constraint then refuses the second with the same message.
def _validation_sees_no_other_update(monkeypatch):
    import commitments.imports
    import commitments.models
    import commitments.services

    blind = lambda update, others: None  # noqa: E731
    monkeypatch.setattr(commitments.models, "same_day_refusal", blind)
    monkeypatch.setattr(commitments.imports, "same_day_refusal", blind)
    original = commitments.services._same_day_refusals
    calls = {"n": 0}

    def blind_once(updates):  # the pre-write check misses the draft; the check after the refusal sees it
        calls["n"] += 1
        return {} if calls["n"] == 1 else original(updates)

    monkeypatch.setattr(commitments.services, "_same_day_refusals", blind_once)


def test_the_database_refuses_a_second_draft_of_the_day_saved_at_the_same_moment(
    monkeypatch, user_with_role, colleagues_draft
):
    from django.core.exceptions import ValidationError

    from commitments.services import update_create

    _validation_sees_no_other_update(monkeypatch)
    with pytest.raises(ValidationError) as refused:
        update_create(
            commitment=colleagues_draft.commitment,
            author=user_with_role(roles.EDITOR),
            as_of=SAME_DAY,
            status="in_progress",
            narrative="Also mine.",
        )
    assert COLLEAGUES_DRAFT in str(refused.value.message_dict["as_of"])
    assert StatusUpdate.objects.filter(commitment=colleagues_draft.commitment, as_of=SAME_DAY).count() == 1


def test_an_import_racing_a_draft_of_the_day_is_refused_whole(monkeypatch, client_for, colleagues_draft):
    from tests.test_import_export import PROCESS_URL, _csv, _row, _upload

    _validation_sees_no_other_update(monkeypatch)
    client = client_for(roles.EDITOR)
    rows = [_row(commitment=SAME_DAY_REFERENCE, as_of="30/09/2019", funding_spent="")]
    preview = _upload(client, _csv(rows))
    confirmed = client.post(PROCESS_URL, dict(preview.context["confirm_form"].initial), follow=True)
    assert COLLEAGUES_DRAFT in confirmed.content.decode()
    assert StatusUpdate.objects.filter(commitment=colleagues_draft.commitment, as_of=SAME_DAY).count() == 1

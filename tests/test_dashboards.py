"""Board dashboards through HTTP: sign-in and roles, every page type with the real Sector Deal data, drill-down,
CSV downloads, the board pack, bad input, and queries that do not grow with the commitments."""

from __future__ import annotations

import csv
import io
import re
from datetime import date, timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from commitments import roles
from commitments.delivery import DeliveryConfidence, DeliveryStatus
from commitments.models import Commitment, StatusUpdate
from commitments.periods import Quarter
from commitments.services import commitment_set_published, update_approve, update_create, update_submit
from metrics.engine import TRACKER_KEY
from metrics.models import Basis, QuarterMetric, ReportingQuarter, ScopeType
from metrics.rules import Population, counted_on, population_condition
from metrics.services import markers_process, metrics_recompute, quarter_lock
from tests.helpers import milestone_write

pytestmark = pytest.mark.django_db

# The key commitments: what the pages count unless asked for everything.
KEY = population_condition(Population.KEY)

OVERVIEW = reverse("dashboards:overview")


@pytest.fixture
def figures():
    """The stored quarterly figures of the seeded data: the quarters these tests read (all of them take long)."""
    latest = Quarter.containing(date.today())
    metrics_recompute(quarters=[*(Quarter(2019, n) for n in range(1, 5)), Quarter(2018, 4), latest.previous(), latest])
    return ReportingQuarter.objects.order_by("year", "number").last()


@pytest.fixture
def board(client_for, figures):
    return client_for(roles.BOARD_MEMBER)


def _text(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))


def test_every_page_needs_sign_in(client, figures):
    for url in (OVERVIEW, reverse("dashboards:funding"), reverse("dashboards:board_pack")):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))


def test_sign_in_page_signs_a_board_member_in_and_out(client, user_with_role, figures):
    user = user_with_role(roles.BOARD_MEMBER, username="boardie")
    user.set_password("a-long-enough-password")
    user.save()
    page = client.get(reverse("login"))
    assert page.status_code == 200
    assert "govuk-frontend" in page.content.decode()
    response = client.post(reverse("login"), {"username": "boardie", "password": "a-long-enough-password"}, follow=True)
    assert response.redirect_chain[-1][0] == OVERVIEW
    assert "Signed in as boardie" in _text(response)
    wrong = Client().post(reverse("login"), {"username": "boardie", "password": "wrong"})
    assert wrong.status_code == 200
    assert "There is a problem" in _text(wrong)
    client.post(reverse("logout"))
    assert client.get(OVERVIEW).status_code == 302


@pytest.mark.parametrize("role", [roles.BOARD_MEMBER, roles.EDITOR, roles.REVIEWER, roles.ADMINISTRATOR])
def test_staff_roles_read_the_dashboards(client_for, figures, role):
    assert client_for(role).get(OVERVIEW).status_code == 200


def test_partners_are_refused_with_a_govuk_page(client_for, figures):
    response = client_for(roles.PARTNER).get(OVERVIEW)
    assert response.status_code == 403
    assert "You cannot see this page" in _text(response)
    assert "govuk-frontend" in response.content.decode()


def test_overview_shows_the_last_completed_quarter_with_the_stored_figures(board, figures):
    completed = figures.quarter.previous()  # the fixture's latest quarter is the one in progress
    tracker = QuarterMetric.objects.get(
        quarter__year=completed.year,
        quarter__number=completed.number,
        basis=Basis.LIVE,
        population=Population.KEY,
        scope_type=ScopeType.TRACKER,
        scope_key=TRACKER_KEY,
    )
    response = board.get(OVERVIEW)
    text = _text(response)
    assert f"Delivery in {completed.label}" in text
    assert f"{tracker.commitments} key commitments counted" in text
    assert tracker.commitments == Commitment.objects.published().filter(KEY).count()
    headline = response.context["tables"]["headline"]
    assert headline.rows[0][1].text == f"{tracker.commitments:,}"
    for label in ("Ideas", "Government", "Sector"):
        assert label in text


def test_an_earlier_quarter_and_time_travel(board, figures):
    quarter = Quarter(2019, 1)
    stored = QuarterMetric.objects.get(
        quarter__year=2019, quarter__number=1, basis=Basis.LIVE, population=Population.KEY, scope_type=ScopeType.TRACKER
    )
    response = board.get(OVERVIEW, {"quarter": quarter.label})
    assert response.context["overview"].tracker.delivered == stored.delivered
    travelled = board.get(OVERVIEW, {"as_of": quarter.end.isoformat()})
    assert "You are looking at the figures as of 30 June 2019" in _text(travelled)
    assert travelled.context["overview"].tracker.delivered == stored.delivered


def test_drill_down_from_a_foundation_to_a_commitments_evidence(board, figures):
    breakdown = board.get(reverse("dashboards:breakdown", args=["foundation"]))
    table = breakdown.context["tables"]["foundations"]
    foundation = next(row[0] for row in table.rows if row[0].text.startswith("Ideas"))
    scope = board.get(foundation.href)
    assert scope.status_code == 200
    listing = scope.context["tables"]["commitments"]
    assert listing.rows
    evidenced = StatusUpdate.objects.approved().filter(commitment__foundation__name="Ideas").first()
    assert evidenced is not None
    page = board.get(reverse("dashboards:commitment", args=[evidenced.commitment.reference]))
    assert page.status_code == 200
    text = _text(page)
    assert evidenced.commitment.reference in text
    assert evidenced.narrative[:40] in text


@pytest.mark.parametrize("scope_type", ["deal", "foundation", "theme", "actor", "lead_organisation", "programme"])
def test_each_breakdown_links_to_its_scopes(board, figures, scope_type):
    response = board.get(reverse("dashboards:breakdown", args=[scope_type]))
    assert response.status_code == 200
    table = next(iter(response.context["tables"].values()))
    # Every kind of scope has rows, themes included: the classification gives key commitments their themes.
    assert table.rows
    first = board.get(table.rows[0][0].href)
    assert first.status_code == 200


def test_scope_detail_filters_and_sorts_commitments(board, figures):
    url = reverse("dashboards:scope", args=["actor", "government"])
    everything = board.get(url).context["page_obj"].paginator.count
    assert everything == Commitment.objects.filter(KEY, actor="government").count()
    delivered = board.get(url, {"status": DeliveryStatus.DELIVERED}).context["page_obj"].paginator.count
    assert (
        delivered
        == Commitment.objects.filter(KEY, actor="government", delivery_status=DeliveryStatus.DELIVERED).count()
    )
    rows = board.get(url, {"sort": "target", "order": "desc"}).context["tables"]["commitments"].rows
    assert rows


def test_every_table_downloads_as_csv(board, figures):
    response = board.get(OVERVIEW, {"download": "foundations"})
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0][0] == "Foundation or area"
    assert any(row[0] == "Ideas" for row in rows)
    assert board.get(OVERVIEW, {"download": "nonsense"}).status_code == 404


def test_what_changed_between_two_quarters(board, figures, user_with_role):
    commitment = Commitment.objects.published().filter(KEY, delivery_status=DeliveryStatus.IN_PROGRESS).first()
    assert commitment is not None
    editor, reviewer = user_with_role(roles.EDITOR), user_with_role(roles.REVIEWER)
    update = update_create(
        commitment=commitment,
        author=editor,
        as_of=date(2020, 2, 1),
        status=DeliveryStatus.DELIVERED,
        confidence=DeliveryConfidence.GREEN,
        progress=100,
        narrative="Delivered in full.",
    )
    update_submit(update=update, user=editor)
    update_approve(update=update, reviewer=reviewer)
    response = board.get(reverse("dashboards:changes"), {"since": "2019-20 Q3", "until": "2019-20 Q4"})
    assert response.status_code == 200
    delivered = [row[0].text for row in response.context["tables"]["newly_delivered"].rows]
    assert commitment.reference in delivered
    assert commitment.reference in [row[0].text for row in response.context["tables"]["improved"].rows]


def test_a_signed_off_quarter_shows_its_figures_and_the_restatement(board, figures, user_with_role):
    reviewer, editor = user_with_role(roles.REVIEWER), user_with_role(roles.EDITOR)
    quarter = Quarter(2019, 3)
    quarter_lock(quarter=quarter, user=reviewer)
    commitment = Commitment.objects.filter(KEY, delivery_status=DeliveryStatus.IN_PROGRESS).first()
    assert commitment is not None
    update = update_create(
        commitment=commitment,
        author=editor,
        as_of=date(2019, 12, 1),
        status=DeliveryStatus.DELIVERED,
        confidence=DeliveryConfidence.GREEN,
        progress=100,
        narrative="Back-dated delivery.",
    )
    update_submit(update=update, user=editor)
    update_approve(update=update, reviewer=reviewer)
    overview = board.get(OVERVIEW, {"quarter": quarter.label})
    assert "was signed off by the board" in _text(overview)
    assert "restated since sign-off" in _text(overview)
    changes = board.get(reverse("dashboards:changes"), {"since": "2019-20 Q2", "until": "2019-20 Q4"})
    restated = changes.context["tables"]["restatements"].rows
    assert restated
    assert restated[0][0].text == quarter.label
    assert commitment.reference in restated[0][3].text


def test_funding_keeps_new_restated_and_target_money_apart(board, figures):
    response = board.get(reverse("dashboards:funding"))
    assert response.status_code == 200
    text = _text(response)
    for label in ("New money committed", "Restated", "Targets"):
        assert label in text
    assert response.context["tables"]["funder_types"].rows


def test_board_pack_prints_and_downloads_as_pdf(board, figures):
    page = board.get(reverse("dashboards:board_pack"))
    assert page.status_code == 200
    assert "Commitments rated red" in _text(page)
    assert "dashboards/print.css" in page.content.decode()
    pdf = board.get(reverse("dashboards:board_pack_pdf"))
    assert pdf["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")


@pytest.mark.parametrize(
    ("url", "params", "status"),
    [
        (OVERVIEW, {"quarter": "2019 Q9"}, 400),
        (OVERVIEW, {"quarter": "1990-91 Q1"}, 404),
        (OVERVIEW, {"as_of": "31/01/2020"}, 400),
        (OVERVIEW, {"as_of": "2999-01-01"}, 400),
        (reverse("dashboards:scope", args=["foundation", "NO-SUCH"]), {}, 404),
        (reverse("dashboards:scope", args=["programme", "not-a-uuid"]), {}, 404),
        (reverse("dashboards:scope", args=["galaxy", "x"]), {}, 404),
        (reverse("dashboards:breakdown", args=["galaxy"]), {}, 404),
        (reverse("dashboards:commitment", args=["NO-SUCH-REF"]), {}, 404),
        (reverse("dashboards:changes"), {"since": "2020-21 Q1", "until": "2019-20 Q1"}, 400),
        (reverse("dashboards:scope", args=["actor", "sector"]), {"page": "zero"}, 400),
    ],
)
def test_bad_input_gets_a_govuk_page_with_a_way_back(board, figures, url, params, status):
    response = board.get(url, params)
    assert response.status_code == status
    assert "Go back to the quarter overview" in response.content.decode()
    assert "govuk-frontend" in response.content.decode()


def _queries(client, url, params=None) -> int:
    with CaptureQueriesContext(connection) as context:
        assert client.get(url, params or {}).status_code == 200
    return len(context.captured_queries)


def test_queries_per_page_do_not_grow_with_the_commitments(board, figures):
    sub_item = Commitment.objects.filter(parent__isnull=False).first()
    assert sub_item is not None
    assert sub_item.parent is not None
    one = sub_item.parent
    small = reverse("dashboards:scope", args=["area", one.area.code if one.area else "x"])
    few = Commitment.objects.filter(area=one.area).count() if one.area else 0
    many_url = reverse("dashboards:scope", args=["tracker", TRACKER_KEY])
    assert Commitment.objects.count() > 5 * max(few, 1)
    assert _queries(board, small) == _queries(board, many_url)
    assert _queries(board, many_url) <= 12
    single = reverse("dashboards:commitment", args=[one.reference])
    busy = Commitment.objects.order_by("-pk").filter(updates__isnull=False).first()
    assert busy is not None
    # Prefetches that find nothing to follow skip their nested queries, so the bound is what stays fixed: the
    # record and its rows, then the theme classification's rules and exceptions (two) and one query per step up
    # to the commitment it belongs to (at most two: a sub-item of a chapter commitment); then the delivery plan
    # (docs/delivery_plan.md): the owner with their team, the milestones, the dependencies both ways, and the
    # quarter's update (four).
    assert _queries(board, single) <= 28
    assert _queries(board, reverse("dashboards:commitment", args=[busy.reference])) <= 28
    assert _queries(board, OVERVIEW) <= 12


@pytest.mark.parametrize("population", [Population.KEY, Population.ALL])
def test_a_scope_list_is_paged_by_its_stored_count_without_counting_again(board, figures, population):
    url = reverse("dashboards:scope", args=["tracker", TRACKER_KEY])
    quarter = Quarter.containing(date.today()).previous()
    period = {"quarter": quarter.label, "population": population}
    listed = Commitment.objects.filter(counted_on(quarter.end), population_condition(population)).count()
    with CaptureQueriesContext(connection) as unfiltered:
        response = board.get(url, period)
    assert response.context["page_obj"].paginator.count == listed
    assert not [query for query in unfiltered.captured_queries if "COUNT(" in query["sql"].upper()]
    # Filtered, the list is counted: the stored figures hold no count of it.
    delivered = board.get(url, {**period, "status": DeliveryStatus.DELIVERED})
    rows = delivered.context["page_obj"].paginator
    assert rows.count == sum(1 for item in rows.object_list if item.state_status == DeliveryStatus.DELIVERED)


def test_the_commitment_page_travels_in_time(board, figures):
    update = StatusUpdate.objects.approved().order_by("as_of").first()
    assert update is not None
    url = reverse("dashboards:commitment", args=[update.commitment.reference])
    before = board.get(url, {"as_of": (update.as_of - timedelta(days=1)).isoformat()})
    assert "You are looking at the figures as of" in _text(before)
    # The earliest approved update of all: the day before it, its commitment has no approved state yet.
    assert before.context["state"] is None
    assert all(item.as_of < update.as_of for item in before.context["timeline"])
    on = board.get(url, {"as_of": update.as_of.isoformat()})
    assert update in on.context["timeline"]


def test_what_changed_up_to_an_as_of_date(board, figures):
    response = board.get(reverse("dashboards:changes"), {"since": "2019-20 Q1", "as_of": "2019-09-15"})
    assert response.status_code == 200
    assert response.context["changes"].later == date(2019, 9, 15)
    assert "You are looking at the figures as of 15 September 2019" in _text(response)
    refused = board.get(reverse("dashboards:changes"), {"since": "2019-20 Q2", "as_of": "2019-09-15"})
    assert refused.status_code == 400


def test_the_commitment_list_sorts_by_its_column_headers(board, figures):
    url = reverse("dashboards:scope", args=["tracker", TRACKER_KEY])
    response = board.get(url, {"sort": "target"})
    listing = response.context["tables"]["commitments"]
    href, state = listing.sort_links[5]
    assert state == "ascending"
    assert 'aria-sort="ascending"' in response.content.decode()
    descending = board.get(url + href.split("#")[0])
    dates = [row[5].text for row in descending.context["tables"]["commitments"].rows]
    assert descending.context["tables"]["commitments"].sort_links[5][1] == "descending"
    assert dates
    assert board.get(reverse("dashboards:scope", args=["tracker", "everything"])).status_code == 404


def test_repeated_failed_sign_ins_lock_the_account_out(client, user_with_role, figures, settings):
    settings.AXES_ENABLED = True
    settings.AXES_FAILURE_LIMIT = 2
    user = user_with_role(roles.BOARD_MEMBER, username="forgetful")
    user.set_password("the-right-password-at-last")
    user.save()
    for _ in range(2):
        client.post(reverse("login"), {"username": "forgetful", "password": "wrong"})
    locked = client.post(reverse("login"), {"username": "forgetful", "password": "the-right-password-at-last"})
    assert locked.status_code == 429
    assert client.get(OVERVIEW).status_code == 302


def test_an_approval_in_the_admin_changes_the_overview_at_once_on_the_embedded_default(
    board, client_for, user_with_role, figures, django_capture_on_commit_callbacks, settings
):
    settings.CELERY_TASK_ALWAYS_EAGER = True  # the embedded default, even when the suite runs with a broker
    completed = figures.quarter.previous()  # the quarter the overview opens on: the last completed one
    before = board.get(OVERVIEW).context["overview"].tracker.delivered
    commitment = Commitment.objects.exclude(delivery_status=DeliveryStatus.DELIVERED).get(reference="SD2-PEOPLE-G2")
    editor = user_with_role(roles.EDITOR)
    update = update_submit(
        update=update_create(
            commitment=commitment,
            author=editor,
            as_of=completed.start,
            status=DeliveryStatus.DELIVERED,
            confidence=DeliveryConfidence.GREEN,
            narrative="Delivered.",
        ),
        user=editor,
    )
    reviewer = client_for(roles.REVIEWER)
    with django_capture_on_commit_callbacks(execute=True):
        response = reviewer.post(reverse("admin:commitments_statusupdate_transition", args=[update.pk, "approve"]))
    assert response.status_code == 302
    assert board.get(OVERVIEW).context["overview"].tracker.delivered == before + 1


def test_a_scope_lists_the_commitments_its_figures_count(board, figures, user_with_role):
    """An unpublished commitment is not counted, so the scope's list leaves it out too."""
    withdrawn = Commitment.objects.filter(KEY, actor="government").order_by("reference").first()
    assert withdrawn is not None
    commitment_set_published(commitment=withdrawn, user=user_with_role(roles.REVIEWER), published=False)
    metrics_recompute(quarters=[Quarter.containing(date.today())])
    page = board.get(reverse("dashboards:scope", args=["actor", "government"]))
    listed = page.context["page_obj"].paginator.count
    assert listed == Commitment.objects.filter(KEY, actor="government", published=True).count()
    stored = QuarterMetric.objects.get(
        quarter=figures,
        basis=Basis.LIVE,
        population=Population.KEY,
        scope_type=ScopeType.ACTOR,
        scope_key="government",
    )
    assert stored.commitments == listed
    assert not re.search(rf"\b{re.escape(withdrawn.reference)}(?![.\w])", _text(page))


def test_the_overview_and_a_scope_show_the_quarters_updates_and_milestones_overdue(board, figures, user_with_role):
    quarter = Quarter(2019, 1)
    commitment = Commitment.objects.filter(KEY, published=True, actor="government").order_by("reference").first()
    assert commitment is not None
    editor, reviewer = user_with_role(roles.EDITOR), user_with_role(roles.REVIEWER)
    milestone_write(commitment=commitment, due_on=date(2019, 5, 1), user=editor)  # overdue on 30 June 2019
    update = update_create(
        commitment=commitment,
        author=editor,
        as_of=date(2019, 6, 1),
        status=DeliveryStatus.IN_PROGRESS,
        narrative="Work began in the quarter, as planned.",
    )
    update_submit(update=update, user=editor)
    update_approve(update=update, reviewer=reviewer)  # the quarter's update, done
    markers_process()
    tracker = QuarterMetric.objects.get(
        quarter__year=2019,
        quarter__number=1,
        basis=Basis.LIVE,
        population=Population.KEY,
        scope_type=ScopeType.TRACKER,
        scope_key=TRACKER_KEY,
    )
    assert tracker.milestones_overdue == 1
    due, done = tracker.updates_due, tracker.updates_done
    assert due is not None
    assert done is not None
    assert due > done > 0
    share = f"{done / due * 100:.0f}%"
    text = _text(board.get(OVERVIEW, {"quarter": quarter.label}))
    assert (
        f"Updates for {quarter.label}: {tracker.updates_done} of {tracker.updates_due} commitments in delivery "
        f"({share}) {'has' if tracker.updates_done == 1 else 'have'} an approved update for the quarter." in text
    )
    assert "1 milestone of the commitments counted was past its due day and not done on 30 June 2019." in text
    scope = _text(board.get(reverse("dashboards:scope", args=["actor", "government"]), {"quarter": quarter.label}))
    assert f"Updates for {quarter.label}: " in scope
    assert "1 milestone of the commitments counted was past its due day" in scope
    # Where none is overdue, no line says so.
    assert "Milestones overdue" not in _text(board.get(OVERVIEW, {"quarter": Quarter(2018, 4).label}))
    # Figures signed off before the quarter's updates were kept say they were not recorded, not that none was due.
    quarter_lock(quarter=quarter, user=reviewer)
    QuarterMetric.objects.filter(basis=Basis.SIGNED_OFF).update(
        updates_due=None, updates_done=None, milestones_overdue=None
    )
    signed_off = _text(board.get(OVERVIEW, {"quarter": quarter.label}))
    assert f"Updates for {quarter.label}: not recorded when these figures were signed off." in signed_off
    assert "none is due" not in signed_off

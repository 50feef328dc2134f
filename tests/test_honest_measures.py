"""Honest measures and key commitments first, through HTTP.

The overview counts the key commitments unless asked for everything, and says which; every percentage names
what it is a share of; "not rated" is a category with its count; the reporting gap is shown as tiles; every
count on the overview links to a list of the commitments behind it, as long as the count; and
``?population=`` gives the same numbers on the overview, a breakdown, the board pack, the funding page and
``/api/v1/metrics/``.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import date
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from commitments import roles
from commitments.delivery import DeliveryConfidence, DeliveryStatus
from commitments.models import Commitment
from commitments.periods import Quarter, last_completed
from commitments.services import update_approve, update_create, update_submit
from lsis.api.tokens import api_token_issue
from metrics.models import Basis, QuarterMetric, ReportingQuarter, ScopeType
from metrics.rules import Population, population_condition
from metrics.services import metrics_recompute, quarter_lock

pytestmark = pytest.mark.django_db

OVERVIEW = reverse("dashboards:overview")
KEY = population_condition(Population.KEY)


@pytest.fixture
def quarter() -> Quarter:
    """The quarter the pages open on (the last completed one), its figures computed with some reported progress.

    Two key commitments report a progress figure and a rating in it, so the mean progress and the ratings are
    not empty; the quarter before is computed too, for the headline's comparison.
    """
    completed = last_completed()
    editor_reviewer = _people()
    for reference, progress in (("SD2-PEOPLE-G1", 40), ("SD2-PLACES-S1", 70)):
        _approve(reference, completed.start, progress, *editor_reviewer)
    metrics_recompute(quarters=[completed.previous(), completed, Quarter.containing(date.today())])
    return completed


def _people() -> tuple[Any, Any]:
    from django.contrib.auth.models import Group

    from tests.factories import UserFactory

    editor, reviewer = UserFactory.create(is_staff=True), UserFactory.create(is_staff=True)
    editor.groups.add(Group.objects.get(name=roles.EDITOR))
    reviewer.groups.add(Group.objects.get(name=roles.REVIEWER))
    return editor, reviewer


def _approve(reference: str, as_of: date, progress: int, editor: Any, reviewer: Any) -> None:
    update = update_create(
        commitment=Commitment.objects.get(reference=reference),
        author=editor,
        as_of=as_of,
        status=DeliveryStatus.IN_PROGRESS,
        confidence=DeliveryConfidence.AMBER,
        progress=progress,
        narrative="Reported.",
    )
    update_submit(update=update, user=editor)
    update_approve(update=update, reviewer=reviewer)


@pytest.fixture
def board(client_for) -> Client:
    return client_for(roles.BOARD_MEMBER)


def _text(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))


def _stored(quarter: Quarter, population: str, scope_type: str = ScopeType.TRACKER, key: str = "all") -> QuarterMetric:
    return QuarterMetric.objects.get(
        quarter__year=quarter.year,
        quarter__number=quarter.number,
        basis=Basis.LIVE,
        population=population,
        scope_type=scope_type,
        scope_key=key,
    )


def _listed(client: Client, href: str) -> int:
    """How many commitments the list a link opens holds (every page of it)."""
    response = client.get(href)
    assert response.status_code == 200, href
    return response.context["page_obj"].paginator.count


def _count(text: str) -> int:
    return int(text.replace(",", ""))


def test_the_overview_counts_the_key_commitments_by_default_and_says_so(board, quarter):
    response = board.get(OVERVIEW)
    assert response.context["period"].population == Population.KEY
    text = _text(response)
    assert "Counting key commitments" in text
    assert "key commitments, without the detailed chapters" in text
    assert "Headlines: key commitments" in text
    key = _stored(quarter, Population.KEY)
    counted = Commitment.objects.published().filter(KEY).count()
    assert response.context["overview"].tracker.commitments == key.commitments == counted
    assert f"{counted} key commitments counted" in text
    everything = board.get(OVERVIEW, {"population": "all"})
    assert "Counting commitments of every kind" in _text(everything)
    assert "elaborations of them and their sub-items" in _text(everything)
    assert everything.context["overview"].tracker.commitments == Commitment.objects.published().count() > counted
    # The choice is kept by every link of the page: the quarter selector and the breakdowns' links.
    assert 'name="population" value="all"' in everything.content.decode()
    foundation = everything.context["tables"]["foundations"].rows[0][0]
    assert "population=all" in foundation.href
    assert board.get(OVERVIEW, {"population": "some"}).status_code == 400


def test_every_percentage_names_what_it_is_a_share_of(board, quarter):
    response = board.get(OVERVIEW)
    key = _stored(quarter, Population.KEY)
    assert key.progress_reported >= 2  # the two reported in the fixture, at least
    headline = {row[0].text: [cell.text for cell in row[1:]] for row in response.context["tables"]["headline"].rows}
    assert "Share delivered (of all commitments counted)" in headline
    mean = headline["Mean progress (of those reporting a progress figure, of all counted)"][0]
    assert mean == f"{key.mean_progress:.0f}% ({key.progress_reported} of {key.commitments})"
    for table_id in ("foundations", "actors", "deals"):
        headers = response.context["tables"][table_id].headers
        assert "Share delivered (of commitments)" in headers
        reporting = headers.index("Reporting progress")
        assert headers[reporting + 1] == "Mean progress (of those reporting)"
    # Each tile with a percentage says what of: the key commitments, or those reporting a figure.
    for tile in response.context["tiles"]:
        if tile.figure.endswith("%"):
            assert f"of {key.commitments} key commitments" in tile.label, tile.label
    progress = next(tile for tile in response.context["tiles"] if "mean progress" in tile.label)
    assert progress.figure == f"{key.mean_progress:.0f}%"
    assert f"the {key.progress_reported} of {key.commitments} key commitments reporting" in progress.label
    # The CSV says it too.
    rows = list(csv.reader(io.StringIO(board.get(OVERVIEW, {"download": "deals"}).content.decode())))
    assert "Share delivered (of commitments)" in rows[0]
    assert "Mean progress (of those reporting)" in rows[0]
    # And the scope page's figures over time.
    scope = board.get(reverse("dashboards:scope", args=["deal", "SD2"]))
    assert "Mean progress (of those reporting)" in scope.context["tables"]["over_time"].headers


def test_not_rated_is_a_category_with_its_count(board, quarter):
    response = board.get(OVERVIEW)
    key = _stored(quarter, Population.KEY)
    assert key.no_confidence > 0
    (chart,) = response.context["charts"]
    unrated = next(series for series in chart["series"] if series["key"] == "no_confidence")
    assert unrated["label"] == f"Not rated ({sum(unrated['data'])})"
    amber = next(series for series in chart["series"] if series["key"] == DeliveryConfidence.AMBER)
    assert amber["label"] == f"Amber ({sum(amber['data'])})"
    assert sum(amber["data"]) >= 2
    headline = {row[0].text: row[1].text for row in response.context["tables"]["headline"].rows}
    assert headline["Not rated (no confidence rating)"] == str(key.no_confidence)
    assert "Not rated" in response.context["tables"]["foundations"].headers


def test_the_reporting_gap_tiles_count_the_lists_they_link_to(board, quarter):
    response = board.get(OVERVIEW)
    assert "Reporting gap" in _text(response)
    key = _stored(quarter, Population.KEY)
    gap = {tile.label: tile for tile in response.context["gap_tiles"]}
    unrated = next(tile for label, tile in gap.items() if "no confidence rating" in label)
    stale = next(tile for label, tile in gap.items() if "no approved update this quarter" in label)
    assert (_count(unrated.figure), _count(stale.figure)) == (key.no_confidence, key.stale)
    assert key.no_confidence > 0
    assert key.stale > 0
    for tile in response.context["gap_tiles"]:
        assert _listed(board, tile.href) == _count(tile.figure), tile.label
        assert f'href="{tile.href.replace("&", "&amp;")}"' in response.content.decode()


def test_the_overdue_tile_links_to_a_list_as_long_as_its_count(board, quarter):
    response = board.get(OVERVIEW)
    overdue = next(tile for tile in response.context["tiles"] if tile.label.startswith("overdue"))
    key = _stored(quarter, Population.KEY)
    assert _count(overdue.figure) == key.overdue > 0
    assert "overdue=on" in overdue.href
    assert _listed(board, overdue.href) == key.overdue
    listing = board.get(overdue.href)
    assert f"{key.overdue} commitments match" in _text(listing)


def test_every_count_on_the_overview_links_to_the_commitments_behind_it(board, quarter):
    response = board.get(OVERVIEW)
    tracker = response.context["overview"].tracker
    for tile in response.context["tiles"]:
        expected = tracker.delivered if tile.figure.endswith("%") else None
        if "mean progress" in tile.label:
            expected = tracker.progress_reported
        listed = _listed(board, tile.href)
        assert listed == (expected if expected is not None else _count(tile.figure)), tile.label
    # The headline table's counts, this quarter and the one before.
    for row in response.context["tables"]["headline"].rows:
        for cell in row[1:3]:
            if cell.href:
                assert _listed(board, cell.href) == _count(cell.text), (row[0].text, cell.href)
    linked = [row for row in response.context["tables"]["headline"].rows if row[1].href]
    assert len(linked) == 12
    # A breakdown row's counts link to that scope's filtered list.
    deals = response.context["tables"]["deals"]
    for row in deals.rows:
        for cell in row[1:]:
            if cell.href:
                assert _listed(board, cell.href) == _count(cell.text), cell.href
    # The movement counts link to the lists of the "what changed" page.
    for row in response.context["tables"]["movement"].rows:
        href = row[1].href
        assert href.startswith(reverse("dashboards:changes")), row[0].text
        changes = board.get(href.split("#")[0])
        table_id = href.split("#table-")[1]
        assert len(changes.context["tables"][table_id].rows) == _count(row[1].text), table_id


def _api(user: Any) -> APIClient:
    client = APIClient()
    _, token = api_token_issue(user=user, expires_in=None)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


def _api_tracker(api: APIClient, quarter: Quarter, population: str | None) -> dict[str, Any]:
    cache.clear()  # the test's transaction never commits, so the data stamp the API keeps answers under stays
    params = {"quarter": quarter.label.replace(" Q", "-Q"), "scope_type": "tracker", "basis": "live"}
    if population is not None:
        params["population"] = population
    response = api.get("/api/v1/metrics/", params)
    assert response.status_code == 200, response.content
    (row,) = response.json()["results"]
    return row


@pytest.mark.parametrize("population", [Population.KEY, Population.ALL])
def test_the_population_gives_the_same_numbers_on_every_surface(board, quarter, user_with_role, population):
    query = {"quarter": quarter.label, "population": population}
    stored = _stored(quarter, population)
    measures = ("commitments", "delivered", "overdue", "stale", "no_confidence", "progress_reported")
    expected = {name: getattr(stored, name) for name in measures}

    overview = board.get(OVERVIEW, query).context["overview"].tracker
    assert {name: getattr(overview, name) for name in measures} == expected

    pack = board.get(reverse("dashboards:board_pack"), query)
    assert pack.status_code == 200
    assert {name: getattr(pack.context["overview"].tracker, name) for name in measures} == expected

    api_row = _api_tracker(_api(user_with_role(roles.PARTNER)), quarter, population)
    assert api_row["population"] == population
    assert {name: api_row[name] for name in measures} == expected
    assert api_row["mean_progress"] == (None if stored.mean_progress is None else f"{stored.mean_progress:.2f}")

    breakdown = board.get(reverse("dashboards:breakdown", args=["deal"]), query)
    (table,) = breakdown.context["tables"].values()
    by_deal = {row[0].text: _count(row[1].text) for row in table.rows}
    deals = QuarterMetric.objects.filter(
        quarter__year=quarter.year,
        quarter__number=quarter.number,
        basis=Basis.LIVE,
        population=population,
        scope_type=ScopeType.DEAL,
    )
    assert by_deal == {row.scope_label: row.commitments for row in deals}
    assert sum(by_deal.values()) == stored.commitments

    funding = board.get(reverse("dashboards:funding"), query)
    money = {row[0].text: row[1].text for row in funding.context["tables"]["money"].rows}
    total = funding.context["tables"]["funder_types"].rows[-1]
    assert total[1].text.startswith(money[next(label for label in money if label.startswith("New money"))])


def test_the_api_opens_on_the_key_commitments_and_documents_the_choice(quarter, user_with_role):
    api = _api(user_with_role(roles.PARTNER))
    assert _api_tracker(api, quarter, None)["population"] == Population.KEY
    key, everything = _api_tracker(api, quarter, "key"), _api_tracker(api, quarter, "all")
    assert key["commitments"] < everything["commitments"]
    cache.clear()
    assert api.get("/api/v1/metrics/", {"population": "some"}).status_code == 400
    schema = Client().get("/api/schema/", {"format": "json"})
    assert schema.status_code == 200
    operation = schema.json()["paths"]["/api/v1/metrics/"]["get"]
    (parameter,) = [item for item in operation["parameters"] if item["name"] == "population"]
    assert parameter["schema"]["enum"] == ["all", "key"]
    assert "key commitments" in parameter["description"]


def test_a_quarter_signed_off_before_populations_shows_live_key_figures_and_says_so(board, quarter, user_with_role):
    quarter_lock(quarter=quarter, user=user_with_role(roles.REVIEWER))
    reporting = ReportingQuarter.objects.get(year=quarter.year, number=quarter.number)
    # As the migration left a quarter signed off before: signed-off rows for everything only.
    QuarterMetric.objects.filter(quarter=reporting, basis=Basis.SIGNED_OFF, population=Population.KEY).delete()
    response = board.get(OVERVIEW, {"quarter": quarter.label})
    foundations = response.context["tables"]["foundations"].rows
    assert all("(live: no signed-off figures for it)" in row[0].text for row in foundations)
    everything = board.get(OVERVIEW, {"quarter": quarter.label, "population": "all"})
    assert not any("(live:" in row[0].text for row in everything.context["tables"]["foundations"].rows)

"""One truth for every figure: the pages, the board pack and the API give the same numbers for the same quarter.

Each delivery rule is written once (``metrics.rules``); these tests read the figures through every surface
that shows them, after random histories and after the two cases that once disagreed.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import pytest
from django.core.cache import cache
from django.db import transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from commitments import roles
from commitments.delivery import DeliveryConfidence, DeliveryStatus
from commitments.models import Commitment, StatusUpdate
from commitments.periods import Quarter
from commitments.services import (
    commitment_edit,
    commitment_set_published,
    update_approve,
    update_create,
    update_submit,
)
from lsis.api.tokens import api_token_issue
from metrics.dashboards import BREAKDOWN_SCOPES
from metrics.engine import FIGURE_FIELDS, TRACKER_KEY
from metrics.models import ScopeType
from metrics.rules import Population, population_condition
from metrics.services import metrics_recompute
from metrics.tasks import recompute_pending

pytestmark = pytest.mark.django_db

V1 = "/api/v1"


def _api(user) -> APIClient:
    client = APIClient()
    _, token = api_token_issue(user=user, expires_in=None)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


def _board(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _approve(commitment, editor, reviewer, **values):
    # A second statement for a day already reported is a correction of the approved one (one rule: ADR 0002).
    same_day = StatusUpdate.objects.approved().filter(commitment=commitment, as_of=values["as_of"]).latest_first()
    update = update_create(
        commitment=commitment,
        author=editor,
        narrative="Reported as of this day, with the reasons for any change.",
        supersedes=same_day.first(),
        **values,
    )
    update_submit(update=update, user=editor)
    update_approve(update=update, reviewer=reviewer)
    return update


def _api_tracker(
    api: APIClient, quarter: Quarter, scope_type: str = ScopeType.TRACKER, population: str | None = None
) -> list[dict]:
    # A test's transaction never commits, so the data stamp the API keeps its answers under never moves.
    cache.clear()
    code = quarter.label.replace(" Q", "-Q")
    params = {"quarter": code, "scope_type": scope_type, "basis": "live", "page_size": "200"}
    response = api.get(f"{V1}/metrics/", {**params, **({"population": population} if population else {})})
    assert response.status_code == 200, response.content
    return response.json()["results"]


def _list_length(response, table_id: str) -> int:
    return len(response.context["tables"][table_id].rows)


# --- the two disagreements found, pinned through the public surfaces -------------------------------------


def test_a_first_rating_is_counted_alike_by_the_overview_what_changed_and_the_api(user_with_role):
    """Unrated to Amber/Green at the same status: neither improved nor worsened anywhere, but newly rated."""
    today = timezone.localdate()
    current = Quarter.containing(today)
    metrics_recompute(quarters=[current.previous(), current])
    commitment = (
        Commitment.objects.published()
        .filter(population_condition(Population.KEY))  # what the pages count by default
        .filter(delivery_status=DeliveryStatus.IN_PROGRESS, delivery_confidence="", deal__published_on__lte=today)
        .order_by("reference")
        .first()
    )
    assert commitment is not None, "a published commitment in progress and not yet rated"
    editor, reviewer, board = (
        user_with_role(roles.EDITOR),
        user_with_role(roles.REVIEWER),
        user_with_role(roles.BOARD_MEMBER),
    )
    _approve(
        commitment,
        editor,
        reviewer,
        as_of=today,
        status=DeliveryStatus.IN_PROGRESS,
        confidence=DeliveryConfidence.AMBER_GREEN,
    )
    recompute_pending()
    client = _board(board)
    in_progress = {"quarter": current.label}  # the quarter in progress: figures so far
    overview = client.get(reverse("dashboards:overview"), in_progress).context["overview"].tracker
    changes = client.get(reverse("dashboards:changes"), {"until": current.label})
    pack = client.get(reverse("dashboards:board_pack"), in_progress)
    (api_row,) = _api_tracker(_api(board), current)
    for movement in ("improved", "worsened", "newly_delivered", "newly_rated", "rating_withdrawn"):
        assert getattr(overview, movement) == api_row[movement] == _list_length(changes, movement), movement
    assert _list_length(pack, "improved") == overview.improved
    assert overview.newly_rated >= 1
    improved = [row[0].text for row in changes.context["tables"]["improved"].rows]
    newly_rated = [row[0].text for row in changes.context["tables"]["newly_rated"].rows]
    assert commitment.reference not in improved
    assert commitment.reference in newly_rated


def test_a_delivered_update_without_a_figure_is_100_percent_on_the_commitment_page_and_in_a_scope_list(
    user_with_role,
):
    """Implied progress: the scope's list as of an earlier quarter end reads it as the commitment page does."""
    quarter = Quarter(2023, 2)  # an earlier quarter, later than every seeded update
    metrics_recompute(quarters=[quarter, Quarter.containing(timezone.localdate())])
    commitment = (
        Commitment.objects.published()
        .filter(population_condition(Population.KEY))  # what the pages count by default
        .filter(delivery_as_of__lt=quarter.start, deal__published_on__lte=quarter.start)
        .exclude(delivery_status=DeliveryStatus.DELIVERED)
        .order_by("reference")
        .first()
    )
    assert commitment is not None, "a published commitment not delivered, last reported before the quarter"
    editor, reviewer, board = (
        user_with_role(roles.EDITOR),
        user_with_role(roles.REVIEWER),
        user_with_role(roles.BOARD_MEMBER),
    )
    _approve(commitment, editor, reviewer, as_of=quarter.start, status=DeliveryStatus.DELIVERED, progress=None)
    recompute_pending()
    client = _board(board)
    page = client.get(reverse("dashboards:commitment", args=[commitment.reference]))
    assert re.search(r"Progress</dt><dd[^>]*>100%", page.content.decode())
    past_page = client.get(reverse("dashboards:commitment", args=[commitment.reference]), {"quarter": quarter.label})
    assert re.search(r"Progress</dt><dd[^>]*>100%", past_page.content.decode())
    listed = client.get(
        reverse("dashboards:scope", args=["deal", commitment.deal.code]),
        {"quarter": quarter.label, "status": DeliveryStatus.DELIVERED, "download": "commitments"},
    )
    assert listed.status_code == 200
    row = next(line for line in listed.content.decode().splitlines() if line.startswith(commitment.reference + ","))
    assert ",100%," in row


# --- every surface, one history -----------------------------------------------------------------------------

# Key commitments, and a chapter elaboration (SD1-IDEAS-HARP-G1) that only population "all" counts.
SAMPLE = [
    "SD2-IDEAS-HARP-G1",
    "SD2-IDEAS-RD-S1",
    "SD2-BUSENV-NHS-S2",
    "SD2-PEOPLE-G1",
    "SD2-PLACES-S1",
    "SD1-IDEAS-HARP-G1",
]
QUARTER = Quarter(2019, 3)  # 2019-20 Q3, compared with 2019-20 Q2
DAYS = [date(2019, 6, 30), date(2019, 9, 30), date(2019, 11, 15), date(2019, 12, 31)]
update_spec = st.tuples(
    st.sampled_from(SAMPLE),
    st.sampled_from(DAYS),
    st.sampled_from(DeliveryStatus.values),
    st.sampled_from(["", *DeliveryConfidence.values]),
    st.one_of(st.none(), st.integers(0, 100)),
)
publication_spec = st.tuples(st.sampled_from(SAMPLE), st.booleans())
target_spec = st.tuples(
    st.sampled_from(SAMPLE), st.sampled_from([None, date(2019, 10, 31), date(2020, 6, 30)]), st.just(0), st.just(0)
)


BREAKDOWN_COLUMNS = ["commitments", "delivered", "overdue", "stale"]


def _text(cell) -> str:
    return str(getattr(cell, "text", cell))


def _breakdown_rows(table) -> dict[tuple[str, str], list[int]]:
    """Each row's scope (from its link) and its commitments, delivered, overdue and stale figures."""
    rows = {}
    for row in table.rows:
        link = re.search(r"/scope/([^/]+)/([^/]+)/", row[0].href)
        assert link is not None, row[0].href
        scope_type, scope_key = link.groups()
        rows[(scope_type, scope_key)] = [int(_text(row[1])), int(_text(row[2])), int(_text(row[8])), int(_text(row[9]))]
    return rows


def _figures_of(item) -> dict[str, Any]:
    return {name: getattr(item, name) for name in FIGURE_FIELDS}


@pytest.mark.slow
@settings(
    max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(events=st.lists(st.one_of(update_spec, update_spec, publication_spec, target_spec), min_size=1, max_size=8))
def test_every_surface_gives_the_same_numbers_for_a_random_history(events, every_quarter_computed, user_with_role):
    with transaction.atomic():
        editor, reviewer, board = (
            user_with_role(roles.EDITOR),
            user_with_role(roles.REVIEWER),
            user_with_role(roles.BOARD_MEMBER),
        )
        metrics_recompute(quarters=[QUARTER.previous(), QUARTER])
        for event in events:
            commitment = Commitment.objects.get(reference=event[0])
            if len(event) == 2:
                commitment_set_published(commitment=commitment, user=reviewer, published=event[1])
            elif len(event) == 4:
                # A reviewer corrects the target date; the edit reaches the figures like an approval. A published
                # commitment's deadline moves only by a request (which sets the forecast), so a correction of
                # its baseline withdraws it, corrects it and publishes it again.
                published = commitment.published
                if published:
                    commitment = commitment_set_published(commitment=commitment, user=reviewer, published=False)
                commitment = commitment_edit(commitment=commitment, user=reviewer, changes={"target_date": event[1]})
                if published:
                    commitment_set_published(commitment=commitment, user=reviewer, published=True)
            else:
                _, as_of, status, confidence, progress = event
                _approve(
                    commitment, editor, reviewer, as_of=as_of, status=status, confidence=confidence, progress=progress
                )
        recompute_pending()
        client, api = _board(board), _api(board)
        for population in Population.values:  # the key commitments (the default), and everything
            _check_every_surface(client, api, population)
        transaction.set_rollback(True)


def _check_every_surface(client: Client, api: APIClient, population: str) -> None:
    """The overview, every breakdown, what changed, the board pack, the lists and the API agree for ``population``."""
    query = {"quarter": QUARTER.label, "population": population}

    overview = client.get(reverse("dashboards:overview"), query).context["overview"]
    tracker = _figures_of(overview.tracker)
    (api_tracker,) = _api_tracker(api, QUARTER, population=population)
    for name in FIGURE_FIELDS:
        assert str(api_tracker[name]) == str(tracker[name]) or float(api_tracker[name]) == float(tracker[name]), name

    for scope_type in BREAKDOWN_SCOPES:
        page = client.get(reverse("dashboards:breakdown", args=[scope_type]), query)
        assert page.status_code == 200
        (table,) = page.context["tables"].values()
        shown = _breakdown_rows(table)
        # A long breakdown is shown a page at a time (everything counts more lead organisations): read every page.
        paged = (page.context.get("listing") or {}).get("page_obj")
        for number in range(2, paged.paginator.num_pages + 1 if paged else 2):
            more = client.get(reverse("dashboards:breakdown", args=[scope_type]), {**query, "page": str(number)})
            shown |= _breakdown_rows(next(iter(more.context["tables"].values())))
        types = [scope_type, ScopeType.AREA] if scope_type == ScopeType.FOUNDATION else [scope_type]
        from_api = {
            (row["scope_type"], row["scope_key"]): [row[name] for name in BREAKDOWN_COLUMNS]
            for kind in types
            for row in _api_tracker(api, QUARTER, kind, population)
        }
        if scope_type == ScopeType.THEME:  # the page shows one framework's themes at a time
            from_api = {key: value for key, value in from_api.items() if key in shown}
        assert shown == from_api, scope_type

    changes = client.get(
        reverse("dashboards:changes"),
        {"since": QUARTER.previous().label, "until": QUARTER.label, "population": population},
    )
    for movement in ("improved", "worsened", "status_changed", "newly_delivered", "newly_rated", "rating_withdrawn"):
        assert _list_length(changes, movement) == tracker[movement], movement
    pack = client.get(reverse("dashboards:board_pack"), query)
    assert _list_length(pack, "improved") == tracker["improved"]
    assert _list_length(pack, "worsened") == tracker["worsened"]
    assert pack.context["overview"].tracker.delivered == tracker["delivered"]

    # The whole tracker's list of commitments as of the quarter end counts what the figures count.
    scope = reverse("dashboards:scope", args=[ScopeType.TRACKER, TRACKER_KEY])
    listed = client.get(scope, query).context["page_obj"].paginator.count
    overdue = client.get(scope, {**query, "overdue": "on"}).context["page_obj"].paginator.count
    delivered = client.get(scope, {**query, "status": DeliveryStatus.DELIVERED}).context["page_obj"]
    assert (listed, overdue, delivered.paginator.count) == (
        tracker["commitments"],
        tracker["overdue"],
        tracker["delivered"],
    )
    # And the reporting gap: not rated, no update this quarter, reporting a progress figure.
    for filters, measure in (
        ({"confidence": "none"}, "no_confidence"),
        ({"stale": "on"}, "stale"),
        ({"progress": "reported"}, "progress_reported"),
    ):
        assert client.get(scope, {**query, **filters}).context["page_obj"].paginator.count == tracker[measure], measure

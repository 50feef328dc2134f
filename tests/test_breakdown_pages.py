"""Long breakdowns through HTTP: sorted by any column on the server, a page at a time, every order and page with
its address; and long charts cut to the largest and "Others" by the one chart builder the pages and the board
pack share."""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from commitments import roles
from commitments.periods import Quarter
from metrics.breakdowns import BREAKDOWN_SORTS, sort_columns
from metrics.models import ReportingQuarter
from metrics.services import metrics_recompute
from metrics.table_builders import CHART_TOP, FIGURE_HEADERS, chart, top_and_others
from tests.helpers import first

pytestmark = pytest.mark.django_db

LEAD_ORGANISATIONS = reverse("dashboards:breakdown", args=["lead_organisation"])
PROGRAMMES = reverse("dashboards:breakdown", args=["programme"])


@pytest.fixture
def figures() -> ReportingQuarter:
    """The stored figures of the last completed quarter, the one the pages open on."""
    metrics_recompute(quarters=[Quarter.containing(date.today()).previous()])
    return first(ReportingQuarter.objects.order_by("-year", "-number"))


@pytest.fixture
def board(client_for: Any, figures: ReportingQuarter) -> Client:
    return client_for(roles.BOARD_MEMBER)


def _rows(response: Any, table_id: str = "lead_organisation") -> list[list[str]]:
    return [[cell.text for cell in row] for row in response.context["tables"][table_id].rows]


def _everything(board: Client, url: str, **query: str) -> list[list[str]]:
    """Every row, from the table's CSV download (which the pages do not cut)."""
    response = board.get(url, {**query, "download": url.strip("/").split("/")[-1]})
    return list(csv.reader(io.StringIO(response.content.decode())))[1:]


def test_every_column_of_a_breakdown_sorts() -> None:
    columns = sort_columns(["Lead organisation", *FIGURE_HEADERS])
    assert sorted(columns) == list(range(len(FIGURE_HEADERS) + 1)), "a figure column with no sort key"
    assert set(columns.values()) <= set(BREAKDOWN_SORTS)


def test_the_lead_organisations_sort_by_a_figure_most_first_and_by_name(board: Client) -> None:
    by_commitments = board.get(LEAD_ORGANISATIONS, {"sort": "commitments", "order": "desc"})
    assert by_commitments.status_code == 200
    counts = [int(row[1].replace(",", "")) for row in _rows(by_commitments)]
    assert counts == sorted(counts, reverse=True)
    assert counts[0] > counts[-1]  # the seeded data has organisations leading more than one commitment
    by_name = _everything(board, LEAD_ORGANISATIONS)  # by name, A to Z, unless asked otherwise
    names = [row[0].casefold() for row in by_name]
    assert names == sorted(names)
    backwards = _everything(board, LEAD_ORGANISATIONS, sort="name", order="desc")
    assert [row[0] for row in backwards] == [row[0] for row in by_name][::-1]


def test_the_sorted_column_says_so_and_links_to_the_other_order(board: Client) -> None:
    page = board.get(LEAD_ORGANISATIONS, {"sort": "overdue", "order": "desc"})
    table = page.context["tables"]["lead_organisation"]
    columns = table.columns
    overdue = next(column for column in columns if column.text == "Overdue")
    assert overdue.aria_sort == "descending"
    assert "sort=overdue" in overdue.href
    assert "order=asc" in overdue.href
    assert {column.aria_sort for column in columns if column.text != "Overdue"} == {"none"}
    html = page.content.decode()
    assert 'aria-sort="descending"' in html
    assert '<legend class="govuk-fieldset__legend govuk-fieldset__legend--s">Sort the table</legend>' in html


def test_a_long_breakdown_is_shown_a_page_at_a_time_with_the_govuk_pagination(board: Client, settings: Any) -> None:
    settings.DASHBOARD_PAGE_SIZE = 4
    everything = _everything(board, LEAD_ORGANISATIONS, sort="commitments", order="desc")
    assert len(everything) > 8
    first = board.get(LEAD_ORGANISATIONS, {"sort": "commitments", "order": "desc"})
    second = board.get(LEAD_ORGANISATIONS, {"sort": "commitments", "order": "desc", "page": "2"})
    assert [row[0] for row in _rows(first)] == [row[0] for row in everything[:4]]
    assert [row[0] for row in _rows(second)] == [row[0] for row in everything[4:8]]
    html = second.content.decode()
    assert '<nav class="govuk-pagination lsis-no-print" aria-label="Pages of lead organisations">' in html
    assert 'aria-current="page">2</a>' in html
    assert 'rel="prev"' in html
    assert 'rel="next"' in html
    # The pages keep the order: each link carries the sort, and the period the page shows.
    assert "sort=commitments&amp;order=desc&amp;page=3" in html
    assert "quarter=" in html.split('aria-label="Pages of lead organisations"')[1]
    assert f"{len(everything)} lead organisations: 5 to 8 shown, page 2 of" in second.content.decode()


def test_a_page_past_the_last_shows_the_last_and_a_bad_sort_is_refused(board: Client, settings: Any) -> None:
    settings.DASHBOARD_PAGE_SIZE = 4
    last = board.get(LEAD_ORGANISATIONS, {"page": "999"})
    assert last.status_code == 200
    assert last.context["listing"]["page_obj"].number == last.context["listing"]["page_obj"].paginator.num_pages
    assert board.get(LEAD_ORGANISATIONS, {"sort": "salary"}).status_code == 400
    assert board.get(LEAD_ORGANISATIONS, {"page": "0"}).status_code == 400


def test_the_foundations_keep_their_areas_under_them_unsorted(board: Client) -> None:
    page = board.get(reverse("dashboards:breakdown", args=["foundation"]))
    assert page.status_code == 200
    assert page.context["listing"] is None


def test_a_chart_of_many_categories_keeps_the_largest_and_adds_up_the_others() -> None:
    labels = [f"Programme {n}" for n in range(15)]
    series = [
        {"key": "green", "label": "Green", "data": list(range(15))},
        {"key": "red", "label": "Red", "data": [1] * 15},
    ]
    cut, cut_series, others = top_and_others(labels, series, limit=3)
    assert cut == ["Programme 14", "Programme 13", "Programme 12", "Others (12)"]
    assert cut_series[0]["data"] == [14, 13, 12, sum(range(12))]
    assert cut_series[1]["data"] == [1, 1, 1, 12]
    assert others == 12
    # Short charts keep their order (the table's), so chart and table read alike.
    assert top_and_others(labels[:3], [{"data": [1, 3, 2]}], limit=3) == (labels[:3], [{"data": [1, 3, 2]}], 0)
    # Lines (quarters over time) are never cut.
    assert chart("over_time", "Over time", labels, series, kind="line")["labels"] == labels


def test_the_programmes_chart_shows_the_top_programmes_and_the_others(board: Client) -> None:
    page = board.get(PROGRAMMES)
    (drawn,) = page.context["charts"]
    programmes = _everything(board, PROGRAMMES)
    assert len(programmes) > CHART_TOP
    assert len(drawn["labels"]) == CHART_TOP + 1
    assert drawn["labels"][-1] == f"Others ({len(programmes) - CHART_TOP})"
    totals = [sum(series["data"][index] for series in drawn["series"]) for index in range(CHART_TOP)]
    assert totals == sorted(totals, reverse=True)
    assert sum(sum(series["data"]) for series in drawn["series"]) == sum(int(row[1]) for row in programmes)
    assert f"The {CHART_TOP} with the most commitments, most first" in page.content.decode()

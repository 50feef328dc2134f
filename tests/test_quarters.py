"""Which quarter the dashboards, the board pack, their CSVs and the API's figures open on, and what "today" is.

Time is frozen in the middle of a quarter (time-machine; the service reads today through
``timezone.localdate()``): the pages open on the last completed quarter, offer the quarter under way as
"in progress: figures so far" as of today, show in the selector the period an ``?as_of=`` chose, and never
print a day still to come.
"""

from __future__ import annotations

import csv
import io
import re
import shutil
import subprocess
from collections.abc import Iterator
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from commitments import roles
from commitments.delivery import DeliveryStatus
from commitments.models import Commitment, StatusUpdate
from commitments.periods import Quarter, last_completed
from commitments.services import update_approve, update_create, update_submit
from metrics import rules
from metrics.engine import FIGURE_FIELDS, TRACKER_KEY
from metrics.models import Basis, QuarterMetric, ReportingQuarter, ScopeType
from metrics.rules import Population
from metrics.services import markers_process, metrics_as_of, metrics_recompute
from metrics.tasks import recompute_pending

pytestmark = pytest.mark.django_db

TODAY = date(2026, 11, 18)  # the middle of 2026-27 Q3
CURRENT = Quarter(2026, 3)  # 2026-27 Q3: October to December 2026, in progress
COMPLETED = Quarter(2026, 2)  # 2026-27 Q2: the last completed quarter
OVERVIEW = reverse("dashboards:overview")
# Every "as of <day>" a page, a PDF or a CSV prints, and every ISO day in a file name.
AS_OF = re.compile(r"as of (\d{1,2} [A-Z][a-z]+ \d{4})", re.IGNORECASE)
ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


@pytest.fixture
def today() -> Iterator[date]:
    """Ten in the morning in London on TODAY, frozen."""
    with time_machine.travel(datetime(2026, 11, 18, 10, 0, tzinfo=ZoneInfo("Europe/London")), tick=False):
        yield TODAY


@pytest.fixture
def board(today: date, client_for: Any) -> Client:
    """A board member, with the figures of the quarters around TODAY stored."""
    metrics_recompute(quarters=[COMPLETED.previous(), COMPLETED, CURRENT])
    return client_for(roles.BOARD_MEMBER)


def _text(response: Any) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))


def _days_as_of(text: str) -> list[date]:
    return [datetime.strptime(day, "%d %B %Y").date() for day in AS_OF.findall(text)]


def _selected(response: Any) -> Any:
    (option,) = [option for option in response.context["quarter_options"] if option.selected]
    return option


# --- the rule, written once ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "completed"),
    [
        (date(2026, 11, 18), Quarter(2026, 2)),
        (date(2026, 10, 1), Quarter(2026, 2)),  # the first day of a quarter: the one before has just ended
        (date(2026, 9, 30), Quarter(2026, 1)),  # the last day of a quarter: it is not over yet
        (date(2027, 1, 1), Quarter(2026, 3)),
        (date(2027, 4, 1), Quarter(2026, 4)),  # a new financial year
    ],
)
def test_the_last_completed_quarter_is_the_one_before_today(day: date, completed: Quarter) -> None:
    assert last_completed(day) == completed
    assert completed.is_over(day)
    assert not Quarter.containing(day).is_over(day)
    assert Quarter.containing(day).figures_day(day) == day
    assert completed.figures_day(day) == completed.end


def test_today_is_the_service_s_local_day(today: date) -> None:
    assert last_completed() == COMPLETED
    assert CURRENT.figures_day() == TODAY


# --- the pages -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        OVERVIEW,
        reverse("dashboards:breakdown", args=[ScopeType.FOUNDATION]),
        reverse("dashboards:scope", args=[ScopeType.TRACKER, TRACKER_KEY]),
        reverse("dashboards:funding"),
        reverse("dashboards:board_pack"),
    ],
)
def test_pages_open_on_the_last_completed_quarter(board: Client, url: str) -> None:
    response = board.get(url)
    assert response.status_code == 200
    period = response.context["period"]
    assert (period.quarter, period.as_of, period.in_progress) == (COMPLETED, None, False)
    assert period.day == COMPLETED.end
    assert _selected(response).value == COMPLETED.label
    labels = {option.value: option.label for option in response.context["quarter_options"]}
    assert labels[CURRENT.label] == f"{CURRENT.label} (in progress: figures so far)"
    assert not any("latest" in label for label in labels.values())
    assert all(day <= TODAY for day in _days_as_of(_text(response)))


def test_the_overview_says_which_quarter_it_opened_on(board: Client) -> None:
    text = _text(board.get(OVERVIEW))
    assert f"Delivery in {COMPLETED.label} " in text
    assert "Pages open on the last completed quarter" in text


def test_the_quarter_in_progress_shows_its_figures_so_far_as_of_today(board: Client) -> None:
    response = board.get(OVERVIEW, {"quarter": CURRENT.label})
    period = response.context["period"]
    assert period.in_progress
    assert period.day == TODAY
    assert _selected(response).value == CURRENT.label
    text = _text(response)
    assert f"Delivery in {CURRENT.label}, as of 18 November 2026" in text
    assert f"{CURRENT.label} is in progress: these are its figures so far, as of today, 18 November 2026" in text
    # The figures are those of today, not of the quarter's last day, which is still to come.
    (tracker,) = [
        row
        for row in metrics_as_of(day=TODAY)
        if row.scope_type == ScopeType.TRACKER and row.population == response.context["period"].population
    ]
    shown = response.context["overview"].tracker
    assert (shown.commitments, shown.overdue, shown.stale) == (tracker.commitments, tracker.overdue, tracker.stale)
    overdue_today = Commitment.objects.filter(
        rules.counted_on(TODAY),
        rules.overdue_condition(on=TODAY),
        rules.population_condition(response.context["period"].population),
    )
    assert shown.overdue == overdue_today.count()
    # Links from the page keep the quarter in progress, not a fixed day.
    assert response.context["period_query"] == f"?quarter={CURRENT.label.replace(' ', '+')}"


def test_the_selector_shows_the_period_an_as_of_date_chose(board: Client) -> None:
    earlier = board.get(OVERVIEW, {"as_of": "2026-08-14"})
    option = _selected(earlier)
    assert option.value == COMPLETED.label
    assert option.label == f"{COMPLETED.label} (as of 14 August 2026)"
    assert 'value="2026-08-14"' in earlier.content.decode()
    this_quarter = board.get(OVERVIEW, {"as_of": "2026-11-02"})
    assert _selected(this_quarter).label == f"{CURRENT.label} (as of 2 November 2026)"
    assert "You are looking at the figures as of 2 November 2026" in _text(this_quarter)
    for response in (earlier, this_quarter):
        assert not any("latest" in item.label for item in response.context["quarter_options"])


def test_what_changed_compares_completed_quarters_by_default_and_today_for_the_quarter_in_progress(
    board: Client,
) -> None:
    url = reverse("dashboards:changes")
    default = board.get(url)
    assert (default.context["since"], default.context["until"]) == (COMPLETED.previous(), COMPLETED)
    assert default.context["changes"].later == COMPLETED.end
    so_far = board.get(url, {"until": CURRENT.label})
    assert so_far.context["changes"].later == TODAY
    assert f"From the end of {COMPLETED.label} to 18 November 2026" in _text(so_far)


def test_no_day_still_to_come_in_the_page_the_pdf_or_the_csvs_of_the_quarter_in_progress(board: Client) -> None:
    query = {"quarter": CURRENT.label}
    quarter_end = f"{CURRENT.end:%-d %B %Y}"
    pack = board.get(reverse("dashboards:board_pack"), query)
    pages = {"overview": _text(board.get(OVERVIEW, query)), "board pack": _text(pack)}
    for name, text in pages.items():
        assert quarter_end not in text, name
        assert "as of 18 November 2026" in text, name
        assert all(day <= TODAY for day in _days_as_of(text)), name

    for path, table in ((OVERVIEW, "headline"), (reverse("dashboards:board_pack"), "foundations")):
        download = board.get(path, {**query, "download": table})
        assert download["Content-Type"].startswith("text/csv")
        assert "2026-11-18" in download["Content-Disposition"]
        assert all(date.fromisoformat(day) <= TODAY for day in ISO_DAY.findall(download["Content-Disposition"]))
        content = download.content.decode()
        assert quarter_end not in content
        assert CURRENT.end.isoformat() not in content
    (header, *_) = csv.reader(io.StringIO(board.get(OVERVIEW, {**query, "download": "headline"}).content.decode()))
    assert header[1] == f"{CURRENT.label} so far, as of 18 November 2026"

    pdf = board.get(reverse("dashboards:board_pack_pdf"), query)
    assert pdf["Content-Type"] == "application/pdf"
    assert "2026-11-18" in pdf["Content-Disposition"]
    pdftotext = shutil.which("pdftotext")
    if pdftotext is None:
        pytest.skip("pdftotext (poppler-utils) is not installed: the PDF's text cannot be read")
    text = subprocess.run(  # noqa: S603 - a fixed program, reading the PDF this test was given
        [pdftotext, "-layout", "-", "-"], input=pdf.content, capture_output=True, check=True
    ).stdout.decode()
    text = re.sub(r"\s+", " ", text)
    assert "Figures as of 18 November 2026" in text
    assert f"{CURRENT.label} is in progress, so these are its figures so far" in text
    assert quarter_end not in text
    assert all(day <= TODAY for day in _days_as_of(text))


def test_the_api_s_figures_open_on_the_last_completed_quarter_too(board: Client) -> None:
    cache.clear()
    rows = board.get("/api/v1/metrics/", {"scope_type": "tracker", "basis": "live", "page_size": "200"}).json()
    codes = [row["quarter"] for row in rows["results"]]
    assert codes[0] == "2026-27-Q2"
    assert "2026-27-Q3" not in codes
    named = board.get("/api/v1/metrics/", {"scope_type": "tracker", "quarter": "2026-27-Q3"}).json()
    assert [row["quarter"] for row in named["results"]] == ["2026-27-Q3"]
    # Each row says the day it describes: the last day of a quarter that is over, today for the one in progress.
    assert {row["as_of"] for row in rows["results"] if row["quarter"] == "2026-27-Q2"} == {"2026-09-30"}
    assert {row["as_of"] for row in named["results"]} == {TODAY.isoformat()}


# --- the quarter in progress, stored as of today -------------------------------------------------------


def _stored(quarter: Quarter) -> dict[tuple[str, str, str], dict[str, Any]]:
    """The live rows of a quarter, every figure, by population and scope."""
    rows = QuarterMetric.objects.filter(
        quarter__year=quarter.year, quarter__number=quarter.number, basis=Basis.LIVE
    ).values("population", "scope_type", "scope_key", *FIGURE_FIELDS)
    return {(row.pop("population"), row.pop("scope_type"), row.pop("scope_key")): row for row in rows}


def _computed(day: date) -> dict[tuple[str, str, str], dict[str, Any]]:
    """The figures of every scope as of ``day``, computed without storing anything (time travel)."""
    return {
        (item.population, item.scope_type, item.scope_key): {name: getattr(item, name) for name in FIGURE_FIELDS}
        for item in metrics_as_of(day=day)
    }


def _live_as_of(quarter: Quarter) -> date | None:
    return ReportingQuarter.objects.get(year=quarter.year, number=quarter.number).live_as_of


def test_the_quarter_in_progress_is_stored_as_of_today_and_read_like_any_quarter(board: Client) -> None:
    assert _live_as_of(CURRENT) == TODAY
    assert _live_as_of(COMPLETED) == COMPLETED.end
    assert _stored(CURRENT) == _computed(TODAY)
    with CaptureQueriesContext(connection) as completed_queries:
        board.get(OVERVIEW)
    with CaptureQueriesContext(connection) as so_far_queries:
        response = board.get(OVERVIEW, {"quarter": CURRENT.label})
    period = response.context["period"]
    assert period.in_progress
    assert not period.computed_on_request
    # Read from the stored rows: no more queries than a completed quarter's overview.
    assert len(so_far_queries) <= len(completed_queries)
    stored = _stored(CURRENT)[(period.population, ScopeType.TRACKER, TRACKER_KEY)]
    assert response.context["overview"].tracker.overdue == stored["overdue"]
    scope = board.get(reverse("dashboards:scope", args=[ScopeType.TRACKER, TRACKER_KEY]), {"quarter": CURRENT.label})
    labels = [row[0].text for row in scope.context["tables"]["over_time"].rows]
    assert labels[-1] == f"{CURRENT.label} so far (18 Nov 2026)"
    assert CURRENT.label not in labels[:-1]


def test_the_sweep_keeps_the_figures_so_far_as_of_the_new_day(board: Client, client_for: Any) -> None:
    tomorrow = date(2026, 11, 19)
    with time_machine.travel(datetime(2026, 11, 19, 0, 5, tzinfo=ZoneInfo("Europe/London")), tick=False):
        # Signed in after midnight: a session left idle since yesterday has been signed out.
        board = client_for(roles.BOARD_MEMBER)
        # Before the sweep, the stored rows describe yesterday: the page computes today's figures instead.
        before = board.get(OVERVIEW, {"quarter": CURRENT.label}).context["period"]
        assert before.day == tomorrow
        assert before.computed_on_request
        recompute_pending()  # the periodic sweep, with no marker pending
        assert _live_as_of(CURRENT) == tomorrow
        assert _stored(CURRENT) == _computed(tomorrow)
        assert not board.get(OVERVIEW, {"quarter": CURRENT.label}).context["period"].computed_on_request
    assert _live_as_of(COMPLETED) == COMPLETED.end  # a completed quarter's day does not move


def test_a_quarter_that_ends_is_recomputed_as_of_its_last_day(board: Client) -> None:
    with time_machine.travel(datetime(2027, 1, 1, 0, 5, tzinfo=ZoneInfo("Europe/London")), tick=False):
        recompute_pending()
        assert _live_as_of(CURRENT) == CURRENT.end
        assert _stored(CURRENT) == _computed(CURRENT.end)
        # The new quarter is under way from its first day, with its figures so far.
        assert _live_as_of(CURRENT.next()) == date(2027, 1, 1)
        assert _stored(CURRENT.next()) == _computed(date(2027, 1, 1))


def test_an_approval_in_the_quarter_in_progress_adjusts_its_figures_as_of_today(
    board: Client, user_with_role: Any
) -> None:
    commitment = (
        Commitment.objects.published()
        .filter(rules.counted_on(TODAY), delivery_status=DeliveryStatus.IN_PROGRESS)
        .order_by("reference")
        .first()
    )
    assert commitment is not None
    editor, reviewer = user_with_role(roles.EDITOR), user_with_role(roles.REVIEWER)
    same_day = StatusUpdate.objects.approved().filter(commitment=commitment, as_of=TODAY).latest_first().first()
    update = update_create(
        commitment=commitment,
        author=editor,
        narrative="Delivered.",
        as_of=TODAY,
        status=DeliveryStatus.DELIVERED,
        supersedes=same_day,
    )
    update_submit(update=update, user=editor)
    update_approve(update=update, reviewer=reviewer)
    recompute_pending()
    assert _live_as_of(CURRENT) == TODAY
    assert _stored(CURRENT) == _computed(TODAY)
    tracker = _stored(CURRENT)[(Population.ALL, ScopeType.TRACKER, TRACKER_KEY)]
    assert tracker["newly_delivered"] >= 1


def test_the_sweep_leaves_quarters_after_the_day_it_is_given_alone(board: Client) -> None:
    """A day given to the sweep (an earlier one, as tests and replays give) makes no later quarter "behind"."""
    later = {row.pk: row.computed_at for row in QuarterMetric.objects.filter(quarter__year=CURRENT.year)}
    assert later
    recompute_pending.run()  # today: nothing is behind
    with CaptureQueriesContext(connection) as queries:
        assert markers_process(today=COMPLETED.previous().end) == 0
    # Nothing computed: the engine fills its table of each commitment's state for every quarter it computes.
    assert not [query for query in queries.captured_queries if "metrics_day_state" in query["sql"]]
    assert {row.pk: row.computed_at for row in QuarterMetric.objects.filter(quarter__year=CURRENT.year)} == later
    assert _live_as_of(CURRENT) == TODAY

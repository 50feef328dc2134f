"""The dashboards' forms through HTTP: the as-of date in a GOV.UK date input, with a GOV.UK error summary for a
date that cannot be used; links made before it (``?as_of=YYYY-MM-DD``) still work; filters in fieldsets."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from commitments import roles
from commitments.periods import Quarter
from metrics.models import ReportingQuarter
from metrics.services import metrics_recompute
from tests.helpers import first

pytestmark = pytest.mark.django_db

OVERVIEW = reverse("dashboards:overview")
CHANGES = reverse("dashboards:changes")
THEMES = reverse("dashboards:breakdown", args=["theme"])


@pytest.fixture
def figures() -> ReportingQuarter:
    """Stored figures of the quarters these tests travel to, and of the one the pages open on."""
    metrics_recompute(quarters=[Quarter(2019, 1), Quarter(2019, 2), Quarter(2019, 4)])
    metrics_recompute(quarters=[Quarter.containing(date.today()).previous(), Quarter.containing(date.today())])
    return first(ReportingQuarter.objects.order_by("-year", "-number"))


@pytest.fixture
def board(client_for: Any, figures: ReportingQuarter) -> Client:
    return client_for(roles.BOARD_MEMBER)


def _typed(day: str, month: str, year: str) -> dict[str, str]:
    return {"as_of_day": day, "as_of_month": month, "as_of_year": year}


def _field(html: str, part: str) -> str:
    """The ``<input>`` of one part of the date input."""
    found = re.search(rf'<input [^>]*id="as_of-{part}"[^>]*>', html)
    assert found, f"no {part} field"
    return found.group(0)


def test_a_date_typed_in_the_date_input_shows_the_figures_as_of_that_day(board: Client) -> None:
    page = board.get(OVERVIEW, _typed("31", "1", "2020"))
    assert page.status_code == 200
    assert page.context["period"].as_of == date(2020, 1, 31)
    html = page.content.decode()
    assert "Delivery in 2019-20 Q4, as of 31 January 2020" in html
    # The date input shows the day, in a fieldset whose legend names it.
    assert 'value="31"' in _field(html, "day")
    assert 'value="1"' in _field(html, "month")
    assert 'value="2020"' in _field(html, "year")
    assert '<legend class="govuk-fieldset__legend govuk-fieldset__legend--s">As of a date</legend>' in html


def test_links_made_before_the_date_input_still_work(board: Client) -> None:
    old = board.get(OVERVIEW, {"as_of": "2020-01-31"})
    new = board.get(OVERVIEW, _typed("31", "1", "2020"))
    assert old.status_code == 200
    assert old.context["period"] == new.context["period"]
    assert "Delivery in 2019-20 Q4, as of 31 January 2020" in old.content.decode()
    # The page's own links keep the short form, so what is bookmarked from now on works the same way.
    assert "as_of=2020-01-31" in old.content.decode()
    assert 'value="31"' in _field(old.content.decode(), "day")


def test_a_month_may_be_written_as_a_word(board: Client) -> None:
    page = board.get(OVERVIEW, _typed("31", "Jan", "2020"))
    assert page.context["period"].as_of == date(2020, 1, 31)


@pytest.mark.parametrize(
    ("typed", "message", "wrong"),
    [
        (_typed("31", "", "2020"), "The as-of date must include a month", ["month"]),
        (_typed("", "", "2020"), "The as-of date must include a day and month", ["day", "month"]),
        (_typed("31", "2", "2020"), "The as-of date must be a real date", ["day", "month", "year"]),
        (_typed("first", "2", "2020"), "The as-of date must be a real date", ["day", "month", "year"]),
        (_typed("1", "2", "20"), "Year must include 4 numbers", ["year"]),
        (_typed("1", "1", "2999"), "The as-of date must be today or in the past", ["day", "month", "year"]),
        (_typed("1", "1", "2001"), "The as-of date must be on or after", ["day", "month", "year"]),
    ],
    ids=["no month", "no day or month", "not real", "not a number", "two-digit year", "future", "too early"],
)
def test_a_date_that_cannot_be_used_gets_the_govuk_error_summary(
    board: Client, typed: dict[str, str], message: str, wrong: list[str]
) -> None:
    page = board.get(THEMES, {**typed, "framework": "LSIS-2017-THEMES"})
    assert page.status_code == 400
    html = page.content.decode()
    assert "<title>Error: " in html
    summary = html.split('<div class="govuk-error-summary"')[1].split("</ul>")[0]
    assert "There is a problem" in summary
    assert f'<a href="#as_of-{wrong[0]}">{message}' in summary
    # The date comes back as typed, in its error state, with the message beside it ...
    assert '<p id="as_of-error" class="govuk-error-message">' in html
    for part in ("day", "month", "year"):
        field = _field(html, part)
        assert f'value="{typed[f"as_of_{part}"]}"' in field
        assert ("govuk-input--error" in field) == (part in wrong)
    # ... in a form for the same page that keeps the rest of the address.
    form = html.split(f'<form method="get" action="{THEMES}">')[1].split("</form>")[0]
    assert '<input type="hidden" name="framework" value="LSIS-2017-THEMES">' in form


def test_an_old_link_with_a_bad_date_gets_the_error_summary_too(board: Client) -> None:
    page = board.get(OVERVIEW, {"as_of": "31-01-2020"})
    assert page.status_code == 400
    html = page.content.decode()
    assert "The as-of date in the address must be written YYYY-MM-DD" in html
    assert 'class="govuk-error-summary"' in html
    assert "govuk-input--error" in _field(html, "day")


def test_an_error_elsewhere_in_the_address_is_listed_without_a_date_input(board: Client) -> None:
    page = board.get(OVERVIEW, {"quarter": "not a quarter"})
    assert page.status_code == 400
    html = page.content.decode()
    assert 'class="govuk-error-summary"' in html
    assert "Quarter: " in html
    assert 'id="as_of-day"' not in html


def test_what_changed_takes_its_end_from_the_date_input_or_an_old_link(board: Client) -> None:
    typed = board.get(CHANGES, {"since": "2019-20 Q1", **_typed("15", "9", "2019")})
    old = board.get(CHANGES, {"since": "2019-20 Q1", "as_of": "2019-09-15"})
    for page in (typed, old):
        assert page.status_code == 200
        assert page.context["as_of"] == date(2019, 9, 15)
        assert "From the end of 2019-20 Q1 to 15 September 2019" in page.content.decode()
    html = typed.content.decode()
    assert '<legend class="govuk-fieldset__legend govuk-fieldset__legend--m">Compare two moments</legend>' in html
    assert "Or to a date (optional)</legend>" in html
    wrong = board.get(CHANGES, {"since": "2019-20 Q1", **_typed("15", "13", "2019")})
    assert wrong.status_code == 400
    assert '<a href="#as_of-day">The as-of date must be a real date' in wrong.content.decode()


def test_the_filters_are_govuk_fieldsets_of_selects_and_buttons(board: Client) -> None:
    scope = board.get(reverse("dashboards:scope", args=["actor", "government"])).content.decode()
    assert "Filter and sort the commitments</legend>" in scope
    assert scope.count('<select class="govuk-select"') >= 4
    assert '<button type="submit" class="govuk-button govuk-button--secondary' in scope


def test_today_may_be_asked_for_and_tomorrow_not(board: Client) -> None:
    today = date.today()
    page = board.get(OVERVIEW, _typed(str(today.day), str(today.month), str(today.year)))
    assert page.status_code == 200
    tomorrow = today + timedelta(days=1)
    later = board.get(OVERVIEW, _typed(str(tomorrow.day), str(tomorrow.month), str(tomorrow.year)))
    assert later.status_code == 400

"""Reading a commitment's timing as the documents write it.

A written timing is one of five kinds (``TimingKind``), each read into a start and a deadline:

- a deadline ("by March 2021", "by 2020", "within five years"): the deadline is the last day of the period
  named, so that "overdue" means the whole period has passed;
- a window ("between April 2019 and March 2021", "in the first quarter of 2019", "in 2019/20", "during
  2019"): it starts on the first day of the first period and its deadline is the last day of the last;
- a start date ("from April 2019", "from autumn 2019"): the first day of the period; no deadline;
- a duration ("over the next three years", "over five years", "a five-year collaboration"): anchored at the
  document's publication where the text counts from it ("the next"), with the deadline at its end; without
  an anchor it has neither start nor deadline;
- recurring ("annually", "every year"): neither start nor deadline.

Text that names none of these reads as ``TimingKind.NONE`` and stays as written.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date

from django.db import models


class TimingKind(models.TextChoices):
    """What a commitment's written timing says: when it must be done by, when it runs, or how often."""

    NONE = "none", "No timing written"
    DEADLINE = "deadline", "Deadline"
    WINDOW = "window", "Window"
    START = "start", "Start date"
    DURATION = "duration", "Duration"
    RECURRING = "recurring", "Recurring"


@dataclass(frozen=True)
class Timing:
    """A written timing read: its kind, the day it starts (if it names one) and its deadline (if it has one)."""

    kind: TimingKind
    starts_on: date | None = None
    deadline: date | None = None


_MONTHS = {name.lower(): number for number, name in enumerate(calendar.month_name) if name}
_MONTHS.update({name.lower(): number for number, name in enumerate(calendar.month_abbr) if name})
# (first month, last month); winter's last month is in the next calendar year.
_SEASON_MONTHS = {"spring": (3, 5), "summer": (6, 8), "autumn": (9, 11), "winter": (12, 2)}
_PART_OF_YEAR_MONTHS = {"early": (1, 4), "mid": (5, 8), "middle of": (5, 8), "late": (9, 12), "end of": (9, 12)}
_ORDINALS = {"first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3, "fourth": 4, "4th": 4}
_NUMBER_WORDS = {
    "a": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
    "ten": 10,
}  # fmt: skip

_YEAR = r"(?P<year>(?:19|20)\d\d)"
_SEASON_YEAR = re.compile(rf"\b(?P<season>spring|summer|autumn|winter)\s+{_YEAR}\b")
_MONTH_YEAR = re.compile(rf"\b(?P<month>[a-z]+)\s+{_YEAR}\b")
_QUARTER_YEAR = re.compile(rf"\b(?P<ordinal>first|second|third|fourth|1st|2nd|3rd|4th) quarter of {_YEAR}\b")
_HALF_YEAR = re.compile(rf"\b(?P<ordinal>first|second) half of {_YEAR}\b")
_PART_YEAR = re.compile(rf"\b(?P<part>early|mid|middle of|late|end of)[\s-]+{_YEAR}\b")
_FINANCIAL_YEAR = re.compile(r"\b(?P<start>(?:19|20)\d\d)/(?:20)?(?P<end>\d\d)\b")
_BARE_YEAR = re.compile(rf"\b{_YEAR}\b")
_COUNT = r"(?P<count>\d+|[a-z]+)"
_RECURRING = re.compile(r"\b(?:annually|yearly|monthly|quarterly|(?:every|each|per|a) (?:year|month|quarter|annum))\b")
_BETWEEN = re.compile(r"\bbetween (?P<first>.+?) and (?P<last>.+)$")
_FROM = re.compile(r"\b(?:from|starting(?: in| from)?|beginning(?: in| from)?) (?P<rest>.+)$")
_BY_END_OF_THE_YEAR = re.compile(r"\bby the end of (?:the|this) year\b")
_BY = re.compile(r"\bby (?P<rest>.+)$")
_WITHIN = re.compile(rf"\bwithin (?:the next )?{_COUNT} years?\b")
_OVER_THE_NEXT = re.compile(rf"\b(?:over|in|during) the (?:next|coming) (?:{_COUNT} )?years?\b")
_OVER = re.compile(r"\b(?:over (?P<count>\d+|[a-z]+) years?|(?P<count_before>\d+|[a-z]+)[- ]year)\b")


def _month_end(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


def _period(phrase: str) -> tuple[date, date] | None:
    """The first and last day of the period ``phrase`` names ("May 2019", "2019/20", "late 2018"), or None."""
    if match := _SEASON_YEAR.search(phrase):
        year = int(match["year"])
        first, last = _SEASON_MONTHS[match["season"]]
        # Winter runs into the next calendar year.
        return date(year, first, 1), _month_end(year + 1 if last < first else year, last)
    if (match := _MONTH_YEAR.search(phrase)) and match["month"] in _MONTHS:
        year, month = int(match["year"]), _MONTHS[match["month"]]
        return date(year, month, 1), _month_end(year, month)
    if match := _QUARTER_YEAR.search(phrase):
        year, quarter = int(match["year"]), _ORDINALS[match["ordinal"]]
        return date(year, 3 * quarter - 2, 1), _month_end(year, 3 * quarter)
    if match := _HALF_YEAR.search(phrase):
        year, half = int(match["year"]), _ORDINALS[match["ordinal"]]
        return date(year, 6 * half - 5, 1), _month_end(year, 6 * half)
    if match := _PART_YEAR.search(phrase):
        year = int(match["year"])
        first, last = _PART_OF_YEAR_MONTHS[match["part"]]
        return date(year, first, 1), _month_end(year, last)
    if (match := _FINANCIAL_YEAR.search(phrase)) and int(match["end"]) == (int(match["start"]) + 1) % 100:
        start = int(match["start"])
        return date(start, 4, 1), date(start + 1, 3, 31)
    if match := _BARE_YEAR.search(phrase):
        year = int(match["year"])
        return date(year, 1, 1), date(year, 12, 31)
    return None


def _years(count: str | None) -> int | None:
    if count is None:
        return 1
    return int(count) if count.isdigit() else _NUMBER_WORDS.get(count)


def _years_after(day: date, years: int) -> date:
    """The last day of the month ``years`` after ``day``'s (a document dated by its month runs to its end)."""
    return _month_end(day.year + years, day.month)


def parse_timing(text: str, *, written_on: date | None = None) -> Timing:
    """Read the timing ``text`` writes: its kind, start and deadline (see the module's docstring).

    ``written_on`` is the date of the document, for timings that count from it ("within five years",
    "over the next year", "by the end of the year"); without it they have no start or deadline.
    """
    phrase = " ".join(text.lower().split())
    if not phrase:
        return Timing(TimingKind.NONE)
    if _RECURRING.search(phrase):
        return Timing(TimingKind.RECURRING)
    if (match := _BETWEEN.search(phrase)) and (first := _period(match["first"])) and (last := _period(match["last"])):
        return Timing(TimingKind.WINDOW, starts_on=first[0], deadline=last[1])
    if (match := _FROM.search(phrase)) and (period := _period(match["rest"])):
        return Timing(TimingKind.START, starts_on=period[0])
    if _BY_END_OF_THE_YEAR.search(phrase):
        return Timing(TimingKind.DEADLINE, deadline=date(written_on.year, 12, 31) if written_on else None)
    if (match := _BY.search(phrase)) and (period := _period(match["rest"])):
        return Timing(TimingKind.DEADLINE, deadline=period[1])
    if (match := _WITHIN.search(phrase)) and (years := _years(match["count"])) is not None:
        return Timing(TimingKind.DEADLINE, deadline=_years_after(written_on, years) if written_on else None)
    if (match := _OVER_THE_NEXT.search(phrase)) and (years := _years(match["count"])) is not None:
        if written_on is None:
            return Timing(TimingKind.DURATION)
        return Timing(TimingKind.DURATION, starts_on=written_on, deadline=_years_after(written_on, years))
    if (match := _OVER.search(phrase)) and _years(match["count"] or match["count_before"]) is not None:
        # "over five years", "a five-year collaboration": how long, but not from when.
        return Timing(TimingKind.DURATION)
    if period := _period(phrase):
        # "in 2019", "during 2019", "in the first quarter of 2019": some time within the period.
        return Timing(TimingKind.WINDOW, starts_on=period[0], deadline=period[1])
    return Timing(TimingKind.NONE)


def parse_target_date(text: str, *, written_on: date | None = None) -> date | None:
    """The deadline of the timing ``text`` writes, or None (a start date, an unanchored duration, recurring)."""
    return parse_timing(text, written_on=written_on).deadline

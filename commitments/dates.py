"""Reading target dates as the documents write them.

A written target ("by March 2021", "from autumn 2019", "by 2027", "within five years") names a period;
the parsed date is the last day of that period, so that "overdue" means the whole period has passed.
Text that names no period parses to None and stays as written.
"""

from __future__ import annotations

import calendar
import re
from datetime import date

_MONTHS = {name.lower(): number for number, name in enumerate(calendar.month_name) if name}
_MONTHS.update({name.lower(): number for number, name in enumerate(calendar.month_abbr) if name})
_SEASON_END_MONTH = {"spring": 5, "summer": 8, "autumn": 11, "winter": 2}
_PART_OF_YEAR_END_MONTH = {"early": 4, "mid": 8, "middle of": 8, "late": 12, "end of": 12, "the end of": 12}
_NUMBER_WORDS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
}  # fmt: skip

_MONTH_YEAR = re.compile(r"\b(?P<month>[a-z]+)\s+(?P<year>(?:19|20)\d\d)\b")
_SEASON_YEAR = re.compile(r"\b(?P<season>spring|summer|autumn|winter)\s+(?P<year>(?:19|20)\d\d)\b")
_PART_YEAR = re.compile(r"\b(?P<part>early|mid|middle of|late|the end of|end of)[\s-]+(?P<year>(?:19|20)\d\d)\b")
_FINANCIAL_YEAR = re.compile(r"\b(?P<start>(?:19|20)\d\d)/(?:20)?(?P<end>\d\d)\b")
_YEAR = re.compile(r"\b(?P<year>(?:19|20)\d\d)\b")
_WITHIN_YEARS = re.compile(r"\b(?:within|over) (?:the next )?(?P<count>\d+|[a-z]+) years?\b")


def _month_end(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


def parse_target_date(text: str, *, written_on: date | None = None) -> date | None:
    """Return the last day of the period ``text`` names, or None if it names none.

    ``written_on`` is the date of the document, for relative targets such as "within five years".
    """
    phrase = " ".join(text.lower().split())
    if not phrase:
        return None
    if match := _SEASON_YEAR.search(phrase):
        year, month = int(match["year"]), _SEASON_END_MONTH[match["season"]]
        # Winter runs into the next calendar year.
        return _month_end(year + 1 if match["season"] == "winter" else year, month)
    if (match := _MONTH_YEAR.search(phrase)) and match["month"] in _MONTHS:
        return _month_end(int(match["year"]), _MONTHS[match["month"]])
    if match := _PART_YEAR.search(phrase):
        return _month_end(int(match["year"]), _PART_OF_YEAR_END_MONTH[match["part"]])
    if match := _FINANCIAL_YEAR.search(phrase):
        start = int(match["start"])
        if int(match["end"]) == (start + 1) % 100:
            return date(start + 1, 3, 31)
    if match := _YEAR.search(phrase):
        return date(int(match["year"]), 12, 31)
    if written_on is not None and (match := _WITHIN_YEARS.search(phrase)):
        count = match["count"]
        years = int(count) if count.isdigit() else _NUMBER_WORDS.get(count)
        if years is not None:
            return _month_end(written_on.year + years, written_on.month)
    return None

"""UK financial-year quarters, the periods the board reviews delivery by.

The financial year runs from 1 April to 31 March; Q1 is April to June. A quarter is labelled with its
financial year and number, e.g. ``2019-20 Q1``.

Which quarter a reader sees first is decided here, once, for the dashboards, the board pack, their CSVs
and the API's figures alike: the last completed quarter (``last_completed``). The quarter under way is
in progress: its figures are those so far, as of today (``Quarter.figures_day``), never of a day still
to come. "Today" is ``django.utils.timezone.localdate()``, the service's own time zone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from django.core.exceptions import ValidationError
from django.utils import timezone

_LABEL = re.compile(r"(?P<start>\d{4})-(?P<end>\d{2}) Q(?P<number>[1-4])", re.ASCII)
# The financial years a label may name. Far wider than the tracker's (from 2017-18), but narrow enough
# that every date reached from a quarter (its start and end, the next and previous quarters') is one
# Python and the databases hold: years 0 and 10000 are not.
FIRST_YEAR, LAST_YEAR = 1900, 2999


class NotAQuarterError(ValidationError, ValueError):
    """A label that is not a quarter of the years allowed.

    A ValidationError, so that a form or the API answers it with a 400 wherever it reaches one, and a
    ValueError, as ``Quarter.from_label`` has always raised, for callers that catch that.
    """

    def __str__(self) -> str:
        return " ".join(self.messages)


@dataclass(frozen=True, order=True)
class Quarter:
    """A financial-year quarter: ``year`` is the calendar year the financial year starts in."""

    year: int
    number: int

    @classmethod
    def containing(cls, day: date) -> Quarter:
        """The quarter a date falls in."""
        year = day.year if day.month >= 4 else day.year - 1
        return cls(year=year, number=((day.month - 4) % 12) // 3 + 1)

    @classmethod
    def from_label(cls, label: str) -> Quarter:
        """Parse a label such as ``2019-20 Q1``: the one parser of quarters written by people.

        Anything else, or a year outside FIRST_YEAR to LAST_YEAR, raises NotAQuarterError.
        """
        shown = label if len(label) <= 40 else label[:39] + "…"
        match = _LABEL.fullmatch(label.strip())
        if match is None or (int(match["start"]) + 1) % 100 != int(match["end"]):
            raise NotAQuarterError(f"“{shown}” is not a quarter; write it like 2019-20 Q1.", code="invalid")
        year = int(match["start"])
        if not FIRST_YEAR <= year <= LAST_YEAR:
            first, last = cls(FIRST_YEAR, 1), cls(LAST_YEAR, 4)
            raise NotAQuarterError(f"“{shown}” is not a quarter from {first} to {last}.", code="invalid")
        return cls(year=year, number=int(match["number"]))

    @property
    def start(self) -> date:
        """The first day of the quarter."""
        month = 4 + 3 * (self.number - 1)
        return date(self.year + (month - 1) // 12, (month - 1) % 12 + 1, 1)

    @property
    def end(self) -> date:
        """The last day of the quarter."""
        return self.next().start - timedelta(days=1)

    @property
    def label(self) -> str:
        """E.g. ``2019-20 Q1``."""
        return f"{self.year}-{(self.year + 1) % 100:02d} Q{self.number}"

    def is_over(self, today: date | None = None) -> bool:
        """Whether the quarter's last day has passed: its figures are complete and it may be signed off."""
        return self.end < (today or timezone.localdate())

    def figures_day(self, today: date | None = None) -> date:
        """The day the quarter's figures describe: its last day once over, today while in progress."""
        return min(self.end, today or timezone.localdate())

    def next(self) -> Quarter:
        """The following quarter."""
        return Quarter(self.year + 1, 1) if self.number == 4 else Quarter(self.year, self.number + 1)

    def previous(self) -> Quarter:
        """The preceding quarter."""
        return Quarter(self.year - 1, 4) if self.number == 1 else Quarter(self.year, self.number - 1)

    def __str__(self) -> str:
        return self.label


def last_completed(today: date | None = None) -> Quarter:
    """The latest quarter whose last day has passed: the quarter the dashboards and the API open on."""
    return Quarter.containing(today or timezone.localdate()).previous()


# --- the quarterly update cycle: when a quarter's update is due ---------------------------------------------


def working_days_after(day: date, count: int) -> date:
    """The ``count``-th working day after ``day``: not a weekend, not a bank holiday in England.

    The bank holidays are the ``holidays`` package's England calendar (the published list, substitute days
    included), never a list kept here.
    """
    import holidays

    england = holidays.country_holidays("GB", subdiv="ENG", years=range(day.year, day.year + 2))
    current = day
    found = 0
    while found < count:
        current += timedelta(days=1)
        if current.weekday() < 5 and current not in england:
            found += 1
    return current


def update_due_on(quarter: Quarter) -> date:
    """The day a quarter's update is due: ``UPDATE_DUE_WORKING_DAYS`` working days after the quarter ends."""
    from django.conf import settings

    return working_days_after(quarter.end, int(settings.UPDATE_DUE_WORKING_DAYS))


def update_cycle(today: date | None = None) -> Quarter:
    """The quarter whose update is being asked for today: the last completed one (``last_completed``)."""
    return last_completed(today)


def working_days_between(start: date, end: date) -> int:
    """How many working days (England, as ``working_days_after`` counts them) fall after ``start``, up to ``end``.

    0 when ``end`` is not after ``start``. A submission on a Friday has waited 1 working day on the Monday.
    """
    import holidays

    if end <= start:
        return 0
    england = holidays.country_holidays("GB", subdiv="ENG", years=range(start.year, end.year + 1))
    count = 0
    current = start
    while current < end:
        current += timedelta(days=1)
        if current.weekday() < 5 and current not in england:
            count += 1
    return count

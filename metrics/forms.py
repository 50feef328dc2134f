"""Forms of the board dashboards: which quarter and day a page reports on, and how a list is filtered.

They only read query strings. Anything malformed is a 400 with a message per field, never a 500.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date
from typing import Any

from django import forms
from django.utils import timezone

from commitments.delivery import DeliveryConfidence, DeliveryStatus
from commitments.periods import Quarter
from metrics.breakdowns import BREAKDOWN_SORTS, DEFAULT_SORT
from metrics.dashboards import SORTS
from metrics.rules import DEFAULT_POPULATION, Population
from metrics.services import FIRST_QUARTER

SELECT = {"class": "govuk-select"}


class QuarterField(forms.CharField):
    """A quarter written like ``2019-20 Q1``."""

    def to_python(self, value: Any) -> Quarter | None:  # type: ignore[override]
        """Parse the label (a ValidationError if it is not a quarter); empty means "not given"."""
        text = super().to_python(value)
        if not text:
            return None
        return Quarter.from_label(text)


DATE_PARTS = ("day", "month", "year")
MONTHS = {
    **{name.lower(): number for number, name in enumerate(calendar.month_name) if name},
    **{name.lower(): number for number, name in enumerate(calendar.month_abbr) if name},
    "sept": 9,
}


class DateInputError(Exception):
    """A date typed in a GOV.UK date input that cannot be used: the message to show, and the parts to mark."""

    def __init__(self, message: str, parts: tuple[str, ...] = DATE_PARTS) -> None:
        super().__init__(message)
        self.message = message
        self.parts = parts


@dataclass(frozen=True)
class DateInput:
    """What ``dashboards/_date_input.html`` shows: the three fields' values, the error, the fields it concerns."""

    day: str = ""
    month: str = ""
    year: str = ""
    error: str = ""
    wrong: tuple[str, ...] = ()

    @classmethod
    def of(cls, day: date | None) -> DateInput:
        """The fields filled with a day (empty for none)."""
        return cls(str(day.day), str(day.month), str(day.year)) if day else cls()

    def values(self) -> dict[str, str]:
        """The three fields' values by part."""
        return {"day": self.day, "month": self.month, "year": self.year}


def _typed_date(typed: dict[str, str]) -> date:
    """The date in a date input's three fields; the GOV.UK messages for one missing, not a number or not real."""
    missing = tuple(part for part in DATE_PARTS if not typed[part])
    if missing:
        raise DateInputError(f"The as-of date must include a {' and '.join(missing)}", missing)
    month = MONTHS.get(typed["month"].lower().rstrip("."), typed["month"])
    if not (typed["day"].isdigit() and str(month).isdigit() and typed["year"].isdigit()):
        raise DateInputError("The as-of date must be a real date")
    if len(typed["year"]) != 4:
        raise DateInputError("Year must include 4 numbers", ("year",))
    try:
        return date(int(typed["year"]), int(month), int(typed["day"]))
    except ValueError as error:
        raise DateInputError("The as-of date must be a real date") from error


def _as_of_in_range(day: date) -> date:
    """The as-of day must lie between the first reported quarter and today."""
    if day > timezone.localdate():
        raise DateInputError("The as-of date must be today or in the past")
    if day < FIRST_QUARTER.start:
        raise DateInputError(
            f"The as-of date must be on or after {FIRST_QUARTER.start:%-d %B %Y}, when the figures start"
        )
    return day


class PeriodForm(forms.Form):
    """The quarter a page reports on, or an "as of" day for time travel, and which commitments it counts."""

    quarter = QuarterField(required=False, label="Quarter")
    as_of = forms.DateField(
        required=False,
        input_formats=["%Y-%m-%d"],
        label="As of",
        error_messages={"invalid": "The as-of date in the address must be written YYYY-MM-DD, for example 2020-01-31"},
    )
    population = forms.ChoiceField(
        required=False,
        choices=Population.choices,
        label="Commitments counted",
        error_messages={"invalid_choice": "Choose key (the key commitments) or all (every kind of commitment)."},
    )

    def clean_population(self) -> str:
        """The key commitments unless everything is asked for."""
        return str(self.cleaned_data.get("population") or DEFAULT_POPULATION)

    # The GOV.UK date input's three fields; ``as_of`` (YYYY-MM-DD) keeps working for links made before it.
    as_of_day = forms.CharField(required=False, max_length=20, label="As of")
    as_of_month = forms.CharField(required=False, max_length=20, label="As of")
    as_of_year = forms.CharField(required=False, max_length=20, label="As of")
    wrong_parts: tuple[str, ...] = ()

    def clean_as_of(self) -> date | None:
        """A day given as YYYY-MM-DD (the links made before the date input) between the first quarter and today."""
        day = self.cleaned_data.get("as_of")
        if day is None:
            return None
        try:
            return _as_of_in_range(day)
        except DateInputError as error:
            raise forms.ValidationError(error.message) from error

    def clean(self) -> dict[str, Any]:
        """The date typed in the date input, where one was, is the as-of day (checked as GOV.UK advises)."""
        cleaned = super().clean() or {}
        typed = {part: str(cleaned.get(f"as_of_{part}") or "").strip() for part in DATE_PARTS}
        if any(typed.values()):
            try:
                cleaned["as_of"] = _as_of_in_range(_typed_date(typed))
            except DateInputError as error:
                self.wrong_parts = error.parts
                self.add_error("as_of", error.message)
        return cleaned

    def as_of_input(self) -> DateInput:
        """The date input as the reader left it (what they typed), with the as-of date's error if any."""
        errors: list[Any] = list(self.errors.get("as_of") or [])
        typed = {part: str(self.data.get(f"as_of_{part}", "")) for part in DATE_PARTS}
        wrong = self.wrong_parts or (DATE_PARTS if errors else ())
        return DateInput(**typed, error=" ".join(str(error) for error in errors), wrong=wrong)


class ComparisonForm(PeriodForm):
    """Two quarters to compare: what changed from the end of one to the end of the other (or an as-of day)."""

    since = QuarterField(required=False, label="From the end of")
    until = QuarterField(required=False, label="To the end of")

    def clean(self) -> dict[str, Any]:
        """The first quarter must come before the second."""
        cleaned = super().clean() or {}
        since, until = cleaned.get("since"), cleaned.get("until")
        as_of = cleaned.get("as_of")
        if since is not None and as_of is not None and since.end >= as_of:
            self.add_error("since", "Choose a quarter that ends before the as-of date.")
        if since is not None and until is not None and since >= until:
            self.add_error("since", "Choose a quarter before the one you compare it with.")
        return cleaned


ORDER_CHOICES = [("asc", "Ascending (A to Z, least first)"), ("desc", "Descending (Z to A, most first)")]


class BreakdownSortForm(forms.Form):
    """The order of a breakdown's rows and the page shown (``metrics.breakdowns``)."""

    sort = forms.ChoiceField(
        required=False,
        label="Sort by",
        choices=[(key, label) for key, (label, _) in BREAKDOWN_SORTS.items()],
        widget=forms.Select(attrs=SELECT),
    )
    order = forms.ChoiceField(
        required=False,
        label="Order",
        choices=ORDER_CHOICES,
        widget=forms.Select(attrs=SELECT),
    )
    page = forms.IntegerField(required=False, min_value=1, label="Page")

    def clean_sort(self) -> str:
        """By name unless asked otherwise."""
        return str(self.cleaned_data.get("sort") or DEFAULT_SORT)

    def clean_order(self) -> str:
        """Names A to Z; any figure most first, unless asked otherwise."""
        order = self.cleaned_data.get("order")
        if order:
            return str(order)
        return "asc" if self.cleaned_data.get("sort") == DEFAULT_SORT else "desc"


class CommitmentFilterForm(forms.Form):
    """Filters and sort order of a list of commitments."""

    status = forms.ChoiceField(
        required=False, choices=[("", "Any status"), *DeliveryStatus.choices], widget=forms.Select(attrs=SELECT)
    )
    confidence = forms.ChoiceField(
        required=False,
        choices=[
            ("", "Any confidence"),
            ("on_track", "On track (green or amber/green)"),
            ("at_risk", "At risk (amber/red or red)"),
            *DeliveryConfidence.choices,
            ("none", "Not rated (no confidence rating)"),
        ],
        widget=forms.Select(attrs=SELECT),
    )
    progress = forms.ChoiceField(
        required=False,
        choices=[
            ("", "Any"),
            ("reported", "Reporting a progress figure"),
            ("not_reported", "Reporting no progress figure"),
        ],
        widget=forms.Select(attrs=SELECT),
    )
    overdue = forms.BooleanField(required=False, label="Overdue only")
    stale = forms.BooleanField(required=False, label="No approved update this quarter only")
    sort = forms.ChoiceField(
        required=False,
        choices=[
            ("reference", "Reference"),
            ("status", "Status"),
            ("confidence", "Confidence"),
            ("progress", "Progress"),
            ("target", "Target date"),
            ("updated", "Last update"),
        ],
        widget=forms.Select(attrs=SELECT),
    )
    order = forms.ChoiceField(
        required=False, choices=[("asc", "Ascending"), ("desc", "Descending")], widget=forms.Select(attrs=SELECT)
    )
    page = forms.IntegerField(required=False, min_value=1)

    def clean_sort(self) -> str:
        """Default to the reference."""
        sort = self.cleaned_data.get("sort") or "reference"
        return sort if sort in SORTS else "reference"

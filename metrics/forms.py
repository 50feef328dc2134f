"""Forms of the board dashboards: which quarter and day a page reports on, and how a list is filtered.

They only read query strings. Anything malformed is a 400 with a message per field, never a 500.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django import forms
from django.utils import timezone

from commitments.delivery import DeliveryConfidence, DeliveryStatus
from commitments.periods import Quarter
from metrics.breakdowns import BREAKDOWN_SORTS, DEFAULT_SORT
from metrics.dashboards import SORTS
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


class PeriodForm(forms.Form):
    """The quarter a page reports on, or an "as of" day for time travel."""

    quarter = QuarterField(required=False, label="Quarter")
    as_of = forms.DateField(
        required=False,
        input_formats=["%Y-%m-%d"],
        label="As of",
        error_messages={"invalid": "Enter the as-of date as YYYY-MM-DD, for example 2020-01-31."},
    )

    def clean_as_of(self) -> date | None:
        """The as-of day must lie between the first reported quarter and today."""
        day = self.cleaned_data.get("as_of")
        if day is None:
            return None
        if day > timezone.localdate():
            raise forms.ValidationError("The as-of date cannot be in the future.")
        if day < FIRST_QUARTER.start:
            raise forms.ValidationError(f"The tracker's figures start on {FIRST_QUARTER.start:%-d %B %Y}.")
        return day


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
        choices=[("", "Any confidence"), *DeliveryConfidence.choices, ("none", "No confidence rating")],
        widget=forms.Select(attrs=SELECT),
    )
    overdue = forms.BooleanField(required=False, label="Overdue only")
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

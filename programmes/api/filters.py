"""Query-string filters of the commitment record, programme and funding lists (django-filter).

Every filter validates its value: an unknown code, reference or choice, or a malformed date, is a 400
naming the parameter. A commitment a partner may not see is unknown to them, in filters as everywhere.
The commitment list's filters are here, above the commitments app, since one of them is by programme.
"""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import Q, QuerySet

from commitments import search as commitment_search
from commitments.api.filters import CommitmentReferenceFilter, commitments_for
from commitments.delivery import DeliveryConfidence, DeliveryStatus
from commitments.models import (
    Actor,
    Commitment,
    Document,
    DocumentKind,
    Organisation,
    OrganisationRole,
    Section,
    Theme,
)
from lsis.api.filters import StrictBooleanFilter, StrictIsoDateTimeFilter
from programmes.models import AmountNature, FundingAmount, Programme, ProgrammeKind


class CommitmentFilter(django_filters.FilterSet):
    """Filters a partner asks for: classification, who is involved, delivery state, dates."""

    deal = django_filters.ModelChoiceFilter(
        queryset=Document.objects.filter(kind=DocumentKind.SECTOR_DEAL),
        to_field_name="code",
        help_text="Deal code, e.g. SD2.",
    )
    foundation = django_filters.ModelChoiceFilter(
        queryset=Theme.objects.foundations(), to_field_name="code", help_text="Foundation code, e.g. IDEAS."
    )
    area = django_filters.ModelChoiceFilter(
        queryset=Theme.objects.areas(), to_field_name="code", help_text="Area code (see /areas/)."
    )
    theme = django_filters.ModelChoiceFilter(
        field_name="themes", queryset=Theme.objects.all(), to_field_name="uuid", help_text="Theme UUID."
    )
    actor = django_filters.ChoiceFilter(choices=Actor.choices)
    section = django_filters.ChoiceFilter(choices=Section.choices)
    organisation = django_filters.ModelChoiceFilter(
        field_name="organisations",
        queryset=Organisation.objects.all(),
        to_field_name="uuid",
        distinct=True,
        help_text="Organisation UUID: commitments it takes part in, in any role.",
    )
    organisation_role = django_filters.ChoiceFilter(
        field_name="involvements__role",
        choices=OrganisationRole.choices,
        distinct=True,
        help_text="With organisation: only where it has this role.",
        method="filter_organisation_role",
    )
    programme = django_filters.ModelChoiceFilter(
        field_name="programmes", queryset=Programme.objects.all(), to_field_name="uuid", help_text="Programme UUID."
    )
    status = django_filters.ChoiceFilter(field_name="delivery_status", choices=DeliveryStatus.choices)
    confidence = django_filters.ChoiceFilter(
        field_name="delivery_confidence",
        choices=[*DeliveryConfidence.choices, ("none", "Not rated")],
        method="filter_confidence",
        help_text="Delivery confidence; `none` for commitments not rated.",
    )
    overdue = StrictBooleanFilter(
        method="filter_overdue", help_text="true: target date passed, not delivered or withdrawn; false: the rest."
    )
    target_date_from = django_filters.DateFilter(field_name="target_date", lookup_expr="gte")
    target_date_to = django_filters.DateFilter(field_name="target_date", lookup_expr="lte")
    updated_since = StrictIsoDateTimeFilter(
        field_name="modified_at", lookup_expr="gte", help_text="ISO 8601 date-time, e.g. 2026-01-31T00:00:00Z."
    )
    top_level = StrictBooleanFilter(method="filter_top_level", help_text="true: leave out sub-items.")
    search = django_filters.CharFilter(
        method="filter_search",
        max_length=commitment_search.MAX_QUERY_LENGTH,
        help_text="Commitments holding these words in their reference, text, organisations (or their aliases), "
        'programmes or themes, as on the search page: every word, a "quoted phrase" as written, -word left out, '
        '"or" between alternatives. The list keeps its order.',
    )

    class Meta:
        model = Commitment
        fields: list[str] = []

    def filter_organisation_role(self, queryset: QuerySet[Commitment], name: str, value: str) -> QuerySet[Commitment]:
        """Restrict the organisation filter to one role (or any organisation in that role)."""
        organisation = self.form.cleaned_data.get("organisation")
        condition = Q(involvements__role=value)
        if organisation is not None:
            condition &= Q(involvements__organisation=organisation)
        return queryset.filter(condition).distinct()

    def filter_confidence(self, queryset: QuerySet[Commitment], name: str, value: str) -> QuerySet[Commitment]:
        """``none`` means not rated."""
        return queryset.filter(delivery_confidence="" if value == "none" else value)

    def filter_overdue(self, queryset: Any, name: str, value: bool | None) -> QuerySet[Commitment]:
        """Overdue as of today, as the view annotates it (``metrics.rules``, as the figures count it)."""
        return queryset.filter(is_overdue=bool(value))

    def filter_top_level(self, queryset: QuerySet[Commitment], name: str, value: bool | None) -> QuerySet[Commitment]:
        """Sub-items are those of a commitment the user can see.

        A partner sees a sub-item of an unpublished commitment as top-level (its ``parent`` is null): were
        it left out of ``top_level=true``, the gap would give the hidden parent away.
        """
        parents = commitments_for(self.request)
        return queryset.exclude(parent__in=parents) if value else queryset.filter(parent__in=parents)

    def filter_search(self, queryset: QuerySet[Commitment], name: str, value: str) -> QuerySet[Commitment]:
        """The commitments the query finds, by the search page's rule (``commitments.search``)."""
        return commitment_search.matching(queryset, value)


class ProgrammeFilter(django_filters.FilterSet):
    """Filters of programmes."""

    kind = django_filters.ChoiceFilter(choices=ProgrammeKind.choices)
    funder = django_filters.ModelChoiceFilter(
        queryset=Organisation.objects.all(), to_field_name="uuid", help_text="Funder UUID."
    )

    class Meta:
        model = Programme
        fields: list[str] = []


class FundingFilter(django_filters.FilterSet):
    """Filters of funding amounts."""

    nature = django_filters.ChoiceFilter(choices=AmountNature.choices)
    commitment = CommitmentReferenceFilter()
    programme = django_filters.ModelChoiceFilter(
        queryset=Programme.objects.all(), to_field_name="uuid", help_text="Programme UUID."
    )
    funder = django_filters.ModelChoiceFilter(
        queryset=Organisation.objects.all(), to_field_name="uuid", help_text="Funder UUID."
    )

    class Meta:
        model = FundingAmount
        fields: list[str] = []

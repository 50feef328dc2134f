"""Query-string filters of the commitment and status update lists (django-filter).

Every filter validates its value: an unknown code, reference or choice, or a malformed date, is a 400
naming the parameter. A commitment a partner may not see is unknown to them, in filters as everywhere.
"""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import Q, QuerySet

from commitments.api.permissions import visible_commitments
from commitments.delivery import DeliveryConfidence, DeliveryStatus
from commitments.models import (
    Actor,
    Commitment,
    CommitmentQuerySet,
    Document,
    DocumentKind,
    Organisation,
    OrganisationRole,
    Section,
    StatusUpdate,
    Theme,
    ThemeKind,
    UpdateState,
)
from lsis.api.filters import StrictBooleanFilter, StrictIsoDateTimeFilter
from programmes.models import Programme


def commitments_for(request: Any) -> CommitmentQuerySet:
    """The commitments that exist for whoever asks; the published ones when no one does (schema)."""
    return visible_commitments(getattr(request, "user", None))


class CommitmentReferenceFilter(django_filters.ModelChoiceFilter):
    """A commitment by reference, among those that exist for the user.

    To a partner, an unpublished commitment's reference is refused exactly as an unknown one is: same
    status, same message, so that a filter never tells the two apart.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("queryset", commitments_for)
        kwargs.setdefault("to_field_name", "reference")
        kwargs.setdefault("help_text", "Commitment reference.")
        super().__init__(*args, **kwargs)


_ERRORS = {"invalid_choice": "“%(value)s” is not one of the values this filter takes."}


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
        method="filter_search", max_length=200, help_text="Words that must all occur in the commitment's text."
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
        """Every word must occur in the text or lead-in, ignoring case."""
        for word in value.split():
            queryset = queryset.filter(Q(text__icontains=word) | Q(lead_in__icontains=word))
        return queryset


class StatusUpdateFilter(django_filters.FilterSet):
    """Filters of status updates."""

    commitment = CommitmentReferenceFilter()
    status = django_filters.ChoiceFilter(choices=DeliveryStatus.choices)
    confidence = django_filters.ChoiceFilter(choices=DeliveryConfidence.choices)
    state = django_filters.ChoiceFilter(choices=UpdateState.choices, help_text="Staff only: review state.")
    as_of_from = django_filters.DateFilter(field_name="as_of", lookup_expr="gte")
    as_of_to = django_filters.DateFilter(field_name="as_of", lookup_expr="lte")
    updated_since = StrictIsoDateTimeFilter(field_name="modified_at", lookup_expr="gte")

    class Meta:
        model = StatusUpdate
        fields: list[str] = []


class ThemeFilter(django_filters.FilterSet):
    """Filters of themes."""

    framework = django_filters.CharFilter(field_name="framework__code", help_text="Framework code.")
    kind = django_filters.ChoiceFilter(choices=ThemeKind.choices)

    class Meta:
        model = Theme
        fields: list[str] = []


class OrganisationFilter(django_filters.FilterSet):
    """Filters of organisations."""

    name = django_filters.CharFilter(method="filter_name", max_length=300, help_text="Name or alias, any case.")
    kind = django_filters.ChoiceFilter(choices=Organisation._meta.get_field("kind").choices)

    class Meta:
        model = Organisation
        fields: list[str] = []

    def filter_name(self, queryset: Any, name: str, value: str) -> QuerySet[Organisation]:
        """Organisations with this name or alias."""
        return queryset.named(value)


class DocumentFilter(django_filters.FilterSet):
    """Filters of documents."""

    kind = django_filters.ChoiceFilter(choices=DocumentKind.choices)

    class Meta:
        model = Document
        fields: list[str] = []

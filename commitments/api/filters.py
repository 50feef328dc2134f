"""Query-string filters of the status update, theme, organisation and document lists (django-filter).

Every filter validates its value: an unknown code, reference or choice, or a malformed date, is a 400
naming the parameter. A commitment a partner may not see is unknown to them, in filters as everywhere
(``CommitmentReferenceFilter``, which the apps above use too). The commitment list's filters are in
``programmes.api.filters``, since one of them is by programme.
"""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import QuerySet

from commitments.api.permissions import visible_commitments
from commitments.delivery import DeliveryConfidence, DeliveryStatus
from commitments.models import (
    CommitmentQuerySet,
    Document,
    DocumentKind,
    Organisation,
    StatusUpdate,
    Theme,
    ThemeKind,
    UpdateState,
)
from lsis.api.filters import StrictIsoDateTimeFilter


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

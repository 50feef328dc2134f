"""API endpoints of programmes and funding amounts.

Partners see the money of published commitments and of programmes; amounts attached to an unpublished
commitment do not exist for them, and an amount that is part of one of those is, for them, part of none.
"""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import OuterRef, Q, QuerySet, Subquery
from drf_spectacular.utils import extend_schema, extend_schema_view

from commitments.api.filters import CommitmentReferenceFilter
from commitments.api.permissions import sees_unpublished, visible_commitments
from commitments.api.views import ReadOnlyApiViewSet
from commitments.models import Organisation
from programmes.api.serializers import FundingAmountSerializer, ProgrammeSerializer
from programmes.models import AmountNature, FundingAmount, Programme, ProgrammeKind


def visible_funding(user: Any) -> QuerySet[FundingAmount]:
    """The amounts that exist for the user: those of programmes, and of the commitments the user may see."""
    if sees_unpublished(user):
        return FundingAmount.objects.all()
    return FundingAmount.objects.filter(Q(commitment__isnull=True) | Q(commitment__in=visible_commitments(user)))


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


@extend_schema_view(
    list=extend_schema(summary="List programmes and funds"),
    retrieve=extend_schema(summary="One programme, by UUID"),
)
class ProgrammeViewSet(ReadOnlyApiViewSet):
    """Programmes, funds, challenges and initiatives."""

    queryset = Programme.objects.select_related("funder", "parent", "source_document")
    serializer_class = ProgrammeSerializer
    lookup_field = "uuid"
    filterset_class = ProgrammeFilter
    ordering_fields = ["name"]
    export_name = "programmes"


@extend_schema_view(
    list=extend_schema(summary="List funding amounts"),
    retrieve=extend_schema(summary="One funding amount, by key"),
)
class FundingAmountViewSet(ReadOnlyApiViewSet):
    """Amounts of money as the documents state them."""

    serializer_class = FundingAmountSerializer
    lookup_field = "key"
    filterset_class = FundingFilter
    ordering_fields = ["key", "low", "high"]
    export_name = "funding"

    def get_queryset(self) -> QuerySet[FundingAmount]:
        """The amounts that exist for the user, each with the key of the larger one it is part of, if that one does."""
        visible = visible_funding(self.request.user)
        return visible.select_related("funder", "commitment", "programme", "source_document").annotate(
            part_of_key=Subquery(visible.filter(pk=OuterRef("part_of_id")).values("key")[:1])
        )

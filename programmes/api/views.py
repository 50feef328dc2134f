"""API endpoints of programmes and funding amounts.

Partners see the money of published commitments and of programmes; amounts attached to an unpublished
commitment do not exist for them.
"""

from __future__ import annotations

import django_filters
from django.db.models import Q, QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view

from commitments.api.views import ReadOnlyApiViewSet
from commitments.models import Commitment, Organisation
from lsis.api.permissions import sees_unpublished
from programmes.api.serializers import FundingAmountSerializer, ProgrammeSerializer
from programmes.models import AmountNature, FundingAmount, Programme, ProgrammeKind


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
    commitment = django_filters.ModelChoiceFilter(
        queryset=Commitment.objects.all(), to_field_name="reference", help_text="Commitment reference."
    )
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
        """Partners: only money of published commitments, or of programmes."""
        queryset = FundingAmount.objects.select_related(
            "funder", "commitment", "programme", "part_of", "source_document"
        )
        if sees_unpublished(self.request.user):
            return queryset
        return queryset.filter(Q(commitment__isnull=True) | Q(commitment__published=True))

"""API endpoints of reporting quarters and the stored quarterly figures.

The figures are read from ``QuarterMetric`` as the metrics app stores them; ``updating`` says that
approvals are waiting to be counted (``metrics.services.markers_pending``).
"""

from __future__ import annotations

import re
from typing import Any

import django_filters
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema, extend_schema_field, extend_schema_view
from rest_framework import mixins, serializers
from rest_framework.request import Request

from commitments.api.views import ReadOnlyApiViewSet
from commitments.periods import Quarter, last_completed
from lsis.api.filters import unknown_value
from lsis.api.views import ApiViewSet
from metrics.api.serializers import QuarterMetricSerializer, ReportingQuarterSerializer
from metrics.models import Basis, QuarterMetric, ReportingQuarter, ScopeType
from metrics.rules import DEFAULT_POPULATION, Population
from metrics.services import markers_pending

QUARTER_CODE = r"[0-9]{4}-[0-9]{2}-Q[1-4]"


def parse_quarter_code(code: str) -> Quarter:
    """``2019-20-Q1`` (or the label ``2019-20 Q1``) as a quarter; a ValidationError in the code's form otherwise."""
    try:
        return Quarter.from_label(code.replace("-Q", " Q"))
    except ValidationError as error:
        raise ValidationError([message.replace(" Q", "-Q") for message in error.messages], code="invalid") from None


@extend_schema_field({"type": "string", "pattern": f"^{QUARTER_CODE}$"})
class QuarterField(django_filters.CharFilter):
    """A quarter code, checked: not of the code's form, a 400; of its form but no quarter reported on, a 404."""

    def filter(self, queryset: Any, value: str) -> Any:
        """Rows of that quarter."""
        if not value:
            return queryset
        if not re.fullmatch(QUARTER_CODE, value):
            raise serializers.ValidationError({self.field_name: ["Give a quarter code, e.g. 2019-20-Q1."]})
        try:
            quarter = parse_quarter_code(value)
        except ValidationError:
            raise unknown_value(self.field_name, value) from None
        return queryset.filter(
            **{f"{self.field_name}__year": quarter.year, f"{self.field_name}__number": quarter.number}
        )


class QuarterMetricFilter(django_filters.FilterSet):
    """Filters of the figures: which scope, which quarter, which basis."""

    scope_type = django_filters.ChoiceFilter(choices=ScopeType.choices)
    scope_key = django_filters.CharFilter(max_length=100, help_text="The scope's code, reference or UUID.")
    quarter = QuarterField(field_name="quarter", max_length=10, help_text="Quarter code, e.g. 2019-20-Q1.")
    basis = django_filters.ChoiceFilter(
        choices=Basis.choices, help_text="live (recomputed) or signed_off (frozen at sign-off)."
    )
    population = django_filters.ChoiceFilter(
        choices=Population.choices,
        help_text="Which commitments the figures count: key (the deals' key commitments; the default, as on the "
        "dashboards) or all (chapter elaborations and sub-items too).",
    )

    class Meta:
        model = QuarterMetric
        fields: list[str] = []


@extend_schema_view(
    list=extend_schema(summary="List reporting quarters"),
    retrieve=extend_schema(summary="One quarter, by code (e.g. 2019-20-Q1)"),
)
class ReportingQuarterViewSet(ReadOnlyApiViewSet):
    """Financial-year quarters the tracker reports on, and whether each is signed off."""

    queryset = ReportingQuarter.objects.all()
    serializer_class = ReportingQuarterSerializer
    lookup_field = "code"
    lookup_value_regex = "[^/]+"
    ordering_fields = ["year", "number"]
    export_name = "quarters"

    def get_object(self) -> ReportingQuarter:
        """Find the quarter by its code; a code that is not a quarter is simply not found."""
        try:
            quarter = parse_quarter_code(self.kwargs["code"])
        except ValidationError:
            quarter = None
        queryset = self.get_queryset()
        if quarter is None:
            queryset = queryset.none()
        return get_object_or_404(queryset, year=quarter.year if quarter else 0, number=quarter.number if quarter else 0)


@extend_schema_view(
    list=extend_schema(
        summary="List quarterly figures",
        description=(
            "The stored figures per scope and quarter, latest quarter first; filter by `scope_type` and "
            "`scope_key` for one scope. Without `quarter`, quarters up to the last completed one: the quarter "
            "in progress is listed only when `quarter` names it. Without `population`, the key commitments' "
            "figures (`population=all` counts chapter elaborations and sub-items too), as the dashboards show. "
            "Definitions: /glossary/ and docs/metrics.md."
        ),
    ),
)
class QuarterMetricViewSet(mixins.ListModelMixin, ApiViewSet):
    """Quarterly delivery figures."""

    queryset = QuarterMetric.objects.select_related("quarter")
    serializer_class = QuarterMetricSerializer
    filterset_class = QuarterMetricFilter
    ordering_fields = ["computed_at", "scope_key"]
    export_name = "metrics"

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Any:
        """See ApiViewSet.list_records."""
        return self.list_records(request)

    def get_queryset(self) -> QuerySet[QuarterMetric]:
        """Latest quarter first: without ``quarter``, the last completed quarter, as the dashboards open on.

        The quarter in progress is listed only when ``quarter`` names it (``commitments.periods.last_completed``);
        without ``population``, the key commitments' figures (``metrics.rules.DEFAULT_POPULATION``).
        """
        rows = super().get_queryset()
        if not self.request.query_params.get("population"):
            rows = rows.filter(population=DEFAULT_POPULATION)  # as the dashboards open on
        if not self.request.query_params.get("quarter"):
            last = last_completed()
            rows = rows.filter(
                Q(quarter__year__lt=last.year) | Q(quarter__year=last.year, quarter__number__lte=last.number)
            )
        return rows.order_by("-quarter__year", "-quarter__number", "basis", "population", "scope_type", "scope_key")

    def get_serializer_context(self) -> dict[str, Any]:
        """Whether figures are being recomputed, read once."""
        return {**super().get_serializer_context(), "updating": markers_pending()}


# The releases' endpoints (their own module, which reads the quarter codes above), served with this module's.
from metrics.api.releases import ReleaseViewSet  # noqa: E402

__all__ = ["QuarterField", "QuarterMetricViewSet", "ReleaseViewSet", "ReportingQuarterViewSet", "parse_quarter_code"]

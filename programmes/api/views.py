"""API endpoints of programmes, funding amounts and commitments.

Partners see the money of published commitments and of programmes; amounts attached to an unpublished
commitment do not exist for them, and an amount that is part of one of those is, for them, part of none.
The commitments' endpoints are here, above the commitments app, because a commitment's record shows its
money and programmes; the status updates and what else is the commitments' own are in ``commitments.api``.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cached_property
from typing import Any

from django.db.models import OuterRef, Q, QuerySet, Subquery
from django.utils import timezone
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from commitments import hooks
from commitments.api.permissions import sees_unpublished, visible_commitments
from commitments.api.serializers import StatusUpdateSerializer
from commitments.api.views import ReadOnlyApiViewSet, read_docs
from commitments.models import Commitment, StatusUpdate
from lsis.api.exports import CHUNK_SIZE
from lsis.api.pagination import BrowseOrWalkPagination
from programmes.api import representation
from programmes.api.filters import CommitmentFilter, FundingFilter, ProgrammeFilter
from programmes.api.serializers import CommitmentSerializer, FundingAmountSerializer, ProgrammeSerializer
from programmes.models import FundingAmount, Programme


def visible_funding(user: Any) -> QuerySet[FundingAmount]:
    """The amounts that exist for the user: those of programmes, and of the commitments the user may see."""
    if sees_unpublished(user):
        return FundingAmount.objects.all()
    return FundingAmount.objects.filter(Q(commitment__isnull=True) | Q(commitment__in=visible_commitments(user)))


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
        related = visible.select_related("funder", "commitment", "programme", "source_document")
        return related.prefetch_related("joint_funders").annotate(
            part_of_key=Subquery(visible.filter(pk=OuterRef("part_of_id")).values("key")[:1])
        )


@extend_schema_view(**read_docs("commitments", "reference"))
class CommitmentViewSet(ReadOnlyApiViewSet):
    """Commitments with their classification, organisations, money, sub-items and delivery state.

    Partners see published commitments only. ``?cursor=`` walks the whole list by reference.
    """

    serializer_class = CommitmentSerializer
    lookup_field = "reference"
    filterset_class = CommitmentFilter
    pagination_class = BrowseOrWalkPagination
    cursor_ordering = ("reference",)
    ordering_fields = ["reference", "target_date", "modified_at", "delivery_as_of", "position"]
    export_name = "commitments"

    def get_queryset(self) -> QuerySet[Commitment]:
        """What the user may see, by reference unless ``ordering`` says otherwise."""
        queryset = Commitment.objects.all() if self._staff else Commitment.objects.published()
        # Overdue is a delivery rule of the metrics app, which annotates it (``commitments.hooks``).
        return hooks.pipe(hooks.ANNOTATE_OVERDUE, queryset, on=timezone.localdate()).order_by("reference")

    @cached_property
    def _staff(self) -> bool:
        return self.remember("sees-unpublished", lambda: sees_unpublished(self.request.user))

    def listing(self, queryset: QuerySet[Commitment]) -> QuerySet[Any]:
        """Pages are cut from plain rows (``programmes.api.representation``)."""
        return representation.rows(queryset, published_only=not self._staff)

    def represent(self, page: list[Any]) -> Any:
        """Records built from the page's rows, without a serializer."""
        names = self.remember("reference-names", representation.reference_names)
        return representation.records(page, published_only=not self._staff, names=names)

    def represent_all(self, queryset: QuerySet[Commitment]) -> Iterator[Any]:
        """Every record, built a chunk of rows at a time."""
        return representation.records_in_chunks(
            representation.rows(queryset, published_only=not self._staff),
            published_only=not self._staff,
            chunk_size=CHUNK_SIZE,
        )

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Any:
        """One commitment, built like a page of one."""
        found = representation.rows(
            self.get_queryset().filter(reference=kwargs[self.lookup_field]), published_only=not self._staff
        )
        items = representation.records(found, published_only=not self._staff)
        if not items:
            raise NotFound("No commitment has that reference.")
        return Response(items[0])

    @extend_schema(
        summary="Approved status updates of one commitment",
        description="The commitment's approved updates, latest first (as-of date, then approval).",
        responses={200: StatusUpdateSerializer(many=True)},
        filters=False,
    )
    @action(detail=True, methods=["get"], url_path="updates", pagination_class=None, filterset_class=None)
    def updates(self, request: Request, reference: str) -> Response:
        """The approved updates: the record of delivery (staff see drafts and reviews under /updates/)."""
        commitment = self.get_object()
        updates = StatusUpdate.objects.filter(commitment=commitment).approved().with_details().latest_first()
        context = {**self.get_serializer_context(), "sees_unpublished": sees_unpublished(request.user)}
        return Response(StatusUpdateSerializer(updates, many=True, context=context).data)

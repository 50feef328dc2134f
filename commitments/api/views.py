"""API endpoints of documents, themes, organisations and status updates.

Partners see published commitments and the approved updates of published commitments only: anything
else does not exist for them (404). Staff see everything their role may view. Writes go through
``commitments.services``, the same functions the admin calls. The commitments' own endpoints are in
``programmes.api.views``, above this app, because a commitment's record shows its money and programmes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db.models import QuerySet
from django.urls import reverse
from django.utils.http import quote_etag
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from commitments import services
from commitments.api.filters import (
    DocumentFilter,
    OrganisationFilter,
    StatusUpdateFilter,
    ThemeFilter,
)
from commitments.api.permissions import CanReviewUpdates, CanWriteUpdates, sees_unpublished
from commitments.api.proposals import ProposalViewSet  # noqa: F401  # the router names every viewset from here
from commitments.api.serializers import (
    DocumentSerializer,
    FrameworkSerializer,
    OrganisationSerializer,
    ReturnSerializer,
    StatusUpdateEditSerializer,
    StatusUpdateSerializer,
    StatusUpdateWriteSerializer,
    ThemeSerializer,
)
from commitments.models import (
    Document,
    DocumentKind,
    Framework,
    Organisation,
    StatusUpdate,
    Theme,
    ThemeKind,
    UpdateState,
    same_day_refusal,
)
from lsis.api.errors import Conflict
from lsis.api.pagination import BrowseOrWalkPagination
from lsis.api.schema import IF_MATCH
from lsis.api.views import ApiViewSet


def _refuse_a_second_statement(update: StatusUpdate) -> None:
    """409 if the commitment already has its statement of that day (``same_day_refusal``, the one rule).

    The values sent are valid; what stands in the way is what is stored (an update of that day in
    progress, or approved), which is a conflict with the record's state, not a malformed request.
    """
    others = StatusUpdate.objects.filter(commitment_id=update.commitment_id, as_of=update.as_of)
    refusal = same_day_refusal(update, others.select_related("author"))
    if refusal:
        raise Conflict(refusal)


def _transition_docs(summary: str, description: str) -> Any:
    return extend_schema(
        summary=summary,
        description=description,
        request=None,
        parameters=[IF_MATCH],
        responses={200: StatusUpdateSerializer},
    )


def read_docs(noun: str, lookup: str) -> dict[str, Any]:
    """The schema's summary and description of a read-only endpoint's list and retrieve, by what it lists."""
    return {
        "list": extend_schema(
            summary=f"List {noun}",
            description=f"{noun.capitalize()}, filtered and paged. `?format=csv` or `xlsx` exports every matching row.",
        ),
        "retrieve": extend_schema(
            summary=f"One of the {noun}, by {lookup}",
        ),
    }


class ReadOnlyApiViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ApiViewSet):
    """List and retrieve, with the shared behaviour of ``ApiViewSet``."""

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Any:
        """See ApiViewSet.list_records."""
        return self.list_records(request)

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Any:
        """See ApiViewSet.retrieve_record."""
        return self.retrieve_record(request)


@extend_schema_view(**read_docs("documents", "code"))
class DocumentViewSet(ReadOnlyApiViewSet):
    """Strategy documents, deals and announcements commitments and evidence come from."""

    queryset = Document.objects.all()
    serializer_class = DocumentSerializer
    lookup_field = "code"
    filterset_class = DocumentFilter
    ordering_fields = ["code", "published_on"]
    export_name = "documents"


@extend_schema_view(**read_docs("deals", "code"))
class DealViewSet(DocumentViewSet):
    """The Sector Deals: the documents commitments belong to."""

    queryset = Document.objects.filter(kind=DocumentKind.SECTOR_DEAL)
    filterset_class = None  # type: ignore[assignment]
    export_name = "deals"


@extend_schema_view(**read_docs("frameworks", "code"))
class FrameworkViewSet(ReadOnlyApiViewSet):
    """Ways of classifying commitments: Industrial Strategy foundations, the 2017 and 2020 themes."""

    queryset = Framework.objects.select_related("source_document")
    serializer_class = FrameworkSerializer
    lookup_field = "code"
    ordering_fields = ["code", "name"]
    export_name = "frameworks"


@extend_schema_view(**read_docs("themes", "UUID"))
class ThemeViewSet(ReadOnlyApiViewSet):
    """Themes of every framework, foundations and areas included."""

    queryset = Theme.objects.select_related("framework", "parent", "source_document")
    serializer_class = ThemeSerializer
    lookup_field = "uuid"
    filterset_class = ThemeFilter
    ordering_fields = ["code", "name", "position"]
    export_name = "themes"


@extend_schema_view(**read_docs("foundations", "code"))
class FoundationViewSet(ThemeViewSet):
    """The five foundations of the Industrial Strategy."""

    queryset = ThemeViewSet.queryset.filter(kind=ThemeKind.FOUNDATION)
    lookup_field = "code"
    filterset_class = None  # type: ignore[assignment]
    export_name = "foundations"


@extend_schema_view(**read_docs("areas", "code"))
class AreaViewSet(FoundationViewSet):
    """The areas Sector Deal 2 prints within the foundations."""

    queryset = ThemeViewSet.queryset.filter(kind=ThemeKind.AREA)
    export_name = "areas"


@extend_schema_view(**read_docs("organisations", "UUID"))
class OrganisationViewSet(ReadOnlyApiViewSet):
    """Companies, charities, public bodies and others taking part in commitments."""

    queryset = Organisation.objects.prefetch_related("aliases")
    serializer_class = OrganisationSerializer
    lookup_field = "uuid"
    filterset_class = OrganisationFilter
    ordering_fields = ["name", "modified_at"]
    export_name = "organisations"


@extend_schema_view(
    list=extend_schema(
        summary="List status updates",
        description=(
            "Partners: approved updates of published commitments. Staff: every update, with its review "
            "`workflow`. `?format=csv` or `xlsx` exports every matching row; `?cursor=` walks them all."
        ),
        responses={200: StatusUpdateSerializer(many=True)},
    ),
    retrieve=extend_schema(
        summary="One status update, by UUID",
        description="The ETag is the update's version: send it in If-Match to change it.",
        responses={200: StatusUpdateSerializer},
    ),
)
class StatusUpdateViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ApiViewSet):
    """Status updates, and the review workflow for staff (write, submit, approve, return)."""

    serializer_class = StatusUpdateSerializer
    lookup_field = "uuid"
    filterset_class = StatusUpdateFilter
    pagination_class = BrowseOrWalkPagination
    cursor_ordering = ("created_at", "uuid")
    versioned_actions = ("retrieve",)
    ordering_fields = ["as_of", "approved_at", "modified_at"]
    export_name = "status-updates"

    def get_queryset(self) -> QuerySet[StatusUpdate]:
        """What the user may see."""
        staff = sees_unpublished(self.request.user)
        queryset = StatusUpdate.objects.all() if staff else StatusUpdate.objects.published()
        return queryset.with_details().order_by("-as_of", "commitment__reference", "uuid")

    def get_serializer_context(self) -> dict[str, Any]:
        """Whether to show the review workflow (the schema describes what staff see)."""
        staff = getattr(self, "swagger_fake_view", False) or sees_unpublished(self.request.user)
        return {**super().get_serializer_context(), "sees_unpublished": staff}

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Any:
        """See ApiViewSet.list_records."""
        return self.list_records(request)

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Any:
        """See ApiViewSet.retrieve_record."""
        return self.retrieve_record(request)

    def etag_headers(self, instance: Any) -> dict[str, str]:
        """The update's version: what If-Match must name to change it."""
        return {"ETag": quote_etag(str(instance.version))}

    def get_permissions(self) -> Sequence[Any]:
        """Editors write and submit; reviewers approve and return."""
        if self.action in ("create", "partial_update", "submit"):
            return [IsAuthenticated(), CanWriteUpdates()]
        if self.action in ("approve", "return_to_author"):
            return [IsAuthenticated(), CanReviewUpdates()]
        return super().get_permissions()

    def _respond(self, update: StatusUpdate, code: int = status.HTTP_200_OK) -> Response:
        update = self.get_queryset().get(pk=update.pk)
        headers = self.etag_headers(update)
        if code == status.HTTP_201_CREATED:
            headers["Location"] = reverse("api:statusupdate-detail", kwargs={"uuid": update.uuid})
        return Response(self.get_serializer(update).data, status=code, headers=headers)

    @extend_schema(
        summary="Write a draft update",
        description="Saved as a draft by you; submit it for review next. No If-Match: it is a new record.",
        request=StatusUpdateWriteSerializer,
        responses={201: OpenApiResponse(StatusUpdateSerializer, description="The draft.")},
        examples=[
            OpenApiExample(
                "A draft",
                value={
                    "commitment": "SD2-IDEAS-HARP-G1",
                    "as_of": "2026-06-30",
                    "status": "in_progress",
                    "confidence": "amber_green",
                    "progress": 40,
                    "narrative": "Recruitment of the programme board is complete.",
                    "evidence_links": [{"url": "https://www.gov.uk/", "title": "Announcement"}],
                },
                request_only=True,
            )
        ],
    )
    def create(self, request: Request) -> Response:
        """Write a draft through ``services.update_create``."""
        serializer = StatusUpdateWriteSerializer(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        _refuse_a_second_statement(
            StatusUpdate(
                commitment=data["commitment"],
                as_of=data["as_of"],
                author_id=request.user.pk,
                supersedes=data.get("supersedes"),
                state=UpdateState.DRAFT,
            )
        )
        links = [services.EvidenceLinkData(**link) for link in data.pop("evidence_links", [])]
        update = services.update_create(author=request.user, evidence_links=links, **data)
        return self._respond(update, status.HTTP_201_CREATED)

    @extend_schema(
        summary="Change a draft or returned update",
        request=StatusUpdateEditSerializer,
        parameters=[IF_MATCH],
        responses={200: StatusUpdateSerializer},
    )
    def partial_update(self, request: Request, uuid: str) -> Response:
        """Edit through ``services.update_edit``."""
        update = self.get_object()
        self.expect_version(request, update)
        serializer = StatusUpdateEditSerializer(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        changes = dict(serializer.validated_data)
        if "as_of" in changes and changes["as_of"] != update.as_of:
            moved = StatusUpdate(
                pk=update.pk,
                commitment_id=update.commitment_id,
                as_of=changes["as_of"],
                author_id=update.author_id,
                supersedes_id=update.supersedes_id,
                state=update.state,
            )
            _refuse_a_second_statement(moved)
        links = changes.pop("evidence_links", None)
        evidence = None if links is None else [services.EvidenceLinkData(**link) for link in links]
        update = services.update_edit(update=update, user=request.user, evidence_links=evidence, **changes)
        return self._respond(update)

    @_transition_docs("Submit an update for review", "A draft or returned update goes to the reviewers.")
    @action(detail=True, methods=["post"])
    def submit(self, request: Request, uuid: str) -> Response:
        """``services.update_submit``."""
        update = self.get_object()
        self.expect_version(request, update)
        return self._respond(services.update_submit(update=update, user=request.user))

    @_transition_docs(
        "Approve an update",
        "A submitted update becomes part of the record, and sets the commitment's delivery state if it is the "
        "latest. Four eyes: if you wrote or changed the update (its values or its evidence links), the answer "
        "is 409 and another reviewer must approve it.",
    )
    @action(detail=True, methods=["post"])
    def approve(self, request: Request, uuid: str) -> Response:
        """``services.update_approve``."""
        update = self.get_object()
        self.expect_version(request, update)
        return self._respond(services.update_approve(update=update, reviewer=request.user))

    @extend_schema(
        summary="Return an update to its author",
        description=(
            "A submitted update goes back to its author with the reason, which only staff see. Four eyes: "
            "409 if you wrote or changed the update."
        ),
        request=ReturnSerializer,
        parameters=[IF_MATCH],
        responses={200: StatusUpdateSerializer},
    )
    @action(detail=True, methods=["post"], url_path="return")
    def return_to_author(self, request: Request, uuid: str) -> Response:
        """``services.update_return``."""
        update = self.get_object()
        self.expect_version(request, update)
        serializer = ReturnSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        reason = serializer.validated_data["reason"]
        return self._respond(services.update_return(update=update, reviewer=request.user, reason=reason))

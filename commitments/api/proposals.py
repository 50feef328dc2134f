"""``/api/v1/proposals/``: partners propose status updates; reviewers accept or decline them.

A partner sees and proposes for their own organisation only (``commitments.proposals``): another
organisation's proposal, and a commitment that is unknown, unpublished or not theirs, is a 404 with the
body of any missing record. Staff who may view proposals see them all; reviewers accept (a draft update,
written by them) or decline (with a reason the partner reads), each with If-Match. Writes go through
``commitments.proposals``; creating a proposal is also counted against the ``proposal`` rate.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import django_filters
from django.db.models import QuerySet
from django.urls import reverse
from django.utils.http import quote_etag
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from commitments import proposals, services
from commitments.api.filters import CommitmentReferenceFilter
from commitments.api.permissions import sees_unpublished
from commitments.api.serializers import EvidenceLinkSerializer
from commitments.delivery import DeliveryConfidence, DeliveryStatus
from commitments.models import NARRATIVE_MAX_LENGTH, Commitment, Proposal, ProposalState
from lsis.api.fields import StrictCharField, StrictDecimalField, StrictIntegerField
from lsis.api.permissions import PermissionRequired
from lsis.api.schema import IF_MATCH
from lsis.api.views import ApiViewSet

#: What a missing commitment's 404 says (``GET /commitments/{reference}/`` says the same).
COMMITMENT_NOT_FOUND = "No commitment has that reference."
#: The throttle scope of creating proposals (``API_THROTTLE_PROPOSAL``), on top of the write rate.
PROPOSAL_THROTTLE_SCOPE = "proposal"


class CanDecideProposals(PermissionRequired):
    """Reviewers: accept or decline partners' proposals."""

    permission = proposals.DECIDE_PERMISSION
    message = "Only OLS reviewers may accept or decline proposed updates."


class CanPropose(BasePermission):
    """Partners whose account belongs to an organisation: checked before the body is read, as the service checks."""

    message = (
        "Only partners whose account belongs to an organisation propose updates: ask the Office for Life Sciences "
        "to link yours. OLS staff write updates instead (POST /updates/)."
    )

    def has_permission(self, request: Request, view: Any) -> bool:
        """Whether the user may propose at all (which commitments is the service's question)."""
        return proposals.partner_organisation(user=request.user) is not None


# --- serializers -------------------------------------------------------------------------------------------------


class ProposalOrganisationSerializer(serializers.Serializer):
    """The organisation a proposal was made for."""

    uuid = serializers.UUIDField()
    name = serializers.CharField()


class ProposalSerializer(serializers.ModelSerializer):
    """A proposed status update and where it stands."""

    commitment: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(slug_field="reference", read_only=True)
    organisation = ProposalOrganisationSerializer(read_only=True)
    confidence = serializers.ChoiceField(
        choices=DeliveryConfidence.choices, allow_blank=True, read_only=True, help_text="Empty: not rated."
    )
    evidence_links = EvidenceLinkSerializer(many=True, read_only=True)
    decline_reason = serializers.CharField(read_only=True, help_text="Why a reviewer declined it; empty otherwise.")
    # Staff only; not read-only, so that the schema does not require them: partners never receive them.
    author = serializers.CharField(source="author.username", required=False, help_text="Staff only: who proposed it.")
    decided_by = serializers.CharField(
        source="decided_by.username", required=False, allow_null=True, help_text="Staff only: the deciding reviewer."
    )
    draft = serializers.UUIDField(
        source="draft.uuid",
        required=False,
        allow_null=True,
        help_text="Staff only: UUID of the draft update an accepted proposal became (GET /updates/{uuid}/).",
    )

    class Meta:
        model = Proposal
        fields = [
            "uuid",
            "commitment",
            "organisation",
            "as_of",
            "status",
            "confidence",
            "progress",
            "narrative",
            "funding_spent",
            "evidence_links",
            "state",
            "decline_reason",
            "created_at",
            "decided_at",
            "version",
            "author",
            "decided_by",
            "draft",
        ]
        read_only_fields = fields[:-3]

    def get_fields(self) -> dict[str, Any]:
        """Leave out who proposed and decided it, and the draft, for anyone but staff."""
        fields = super().get_fields()
        if not self.context.get("sees_unpublished", True):
            for name in ("author", "decided_by", "draft"):
                del fields[name]
        return fields


class ProposalWriteSerializer(serializers.Serializer):
    """A proposed status update: the content of an update, for a commitment your organisation takes part in."""

    commitment = StrictCharField(
        max_length=60,
        help_text="The commitment's reference: a published one your organisation leads, partners or funds.",
    )
    as_of = serializers.DateField(help_text="The date the update is true as of; not in the future.")
    status = serializers.ChoiceField(choices=DeliveryStatus.choices)
    confidence = serializers.ChoiceField(choices=DeliveryConfidence.choices, required=False, allow_blank=True)
    progress = StrictIntegerField(min_value=0, max_value=100, required=False, allow_null=True)
    narrative = StrictCharField(max_length=NARRATIVE_MAX_LENGTH)
    funding_spent = StrictDecimalField(max_digits=16, decimal_places=2, min_value=0, required=False, allow_null=True)
    evidence_links = EvidenceLinkSerializer(many=True, required=False)


# At least DECLINE_REASON_MIN characters once the white space around them is stripped, as the service counts.
_REASON_PATTERN = rf"^\s*\S[\s\S]{{{proposals.DECLINE_REASON_MIN - 2},}}\S\s*$"


@extend_schema_field(
    {
        "type": "string",
        "minLength": proposals.DECLINE_REASON_MIN,
        "maxLength": proposals.DECLINE_REASON_MAX,
        "pattern": _REASON_PATTERN,
    }
)
class DeclineReasonField(StrictCharField):
    """The reason for declining, with the schema saying how long it must be (``proposals.decline_reason_refusal``)."""


class DeclineSerializer(serializers.Serializer):
    """Why a reviewer declines a proposal."""

    reason = DeclineReasonField(
        max_length=proposals.DECLINE_REASON_MAX,
        help_text=f"Why, in at least {proposals.DECLINE_REASON_MIN} characters; the partner reads it.",
    )

    def validate_reason(self, value: str) -> str:
        """The service's rule, which the schema states too: a reason it forbids is a 400, as the schema says."""
        refusal = proposals.decline_reason_refusal(reason=value)
        if refusal:
            raise serializers.ValidationError(refusal)
        return value


# --- filters -----------------------------------------------------------------------------------------------------


class ProposalFilter(django_filters.FilterSet):
    """Filters of proposals."""

    state = django_filters.ChoiceFilter(
        choices=ProposalState.choices, error_messages={"invalid_choice": "“%(value)s” is not a state of a proposal."}
    )
    commitment = CommitmentReferenceFilter()

    class Meta:
        model = Proposal
        fields: list[str] = []


# --- the endpoint ------------------------------------------------------------------------------------------------


def _decision_docs(summary: str, description: str, request: Any = None) -> Any:
    return extend_schema(
        summary=summary,
        description=description,
        request=request,
        parameters=[IF_MATCH],
        responses={200: ProposalSerializer},
    )


@extend_schema_view(
    list=extend_schema(
        summary="List proposed updates",
        description=(
            "Partners: their organisation's proposals. Staff: every proposal. Latest first; "
            "`?format=csv` or `xlsx` exports every matching row."
        ),
        responses={200: ProposalSerializer(many=True)},
    ),
    retrieve=extend_schema(
        summary="One proposed update, by UUID",
        description="The ETag is the proposal's version: a reviewer sends it in If-Match to decide.",
        responses={200: ProposalSerializer},
    ),
)
class ProposalViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ApiViewSet):
    """Partners' proposed status updates, and their acceptance or decline by reviewers."""

    serializer_class = ProposalSerializer
    lookup_field = "uuid"
    filterset_class = ProposalFilter
    versioned_actions = ("retrieve",)
    ordering_fields = ["created_at", "as_of"]
    export_name = "proposals"

    def get_queryset(self) -> QuerySet[Proposal]:
        """The proposals the user may see (``proposals.proposals_for``), latest first."""
        return proposals.proposals_for(user=self.request.user).with_details().order_by("-created_at", "uuid")

    def get_serializer_context(self) -> dict[str, Any]:
        """Whether to show staff's fields (the schema describes what staff see)."""
        staff = getattr(self, "swagger_fake_view", False) or sees_unpublished(self.request.user)
        return {**super().get_serializer_context(), "sees_unpublished": staff}

    def get_permissions(self) -> Sequence[Any]:
        """Reviewers decide; partners whose account belongs to an organisation propose; anyone signed in reads."""
        if self.action in ("accept", "decline"):
            return [IsAuthenticated(), CanDecideProposals()]
        if self.action == "create":
            return [IsAuthenticated(), CanPropose()]
        return super().get_permissions()

    def check_throttles(self, request: Request) -> None:
        """Every write counts against the write rate; a new proposal against the proposal rate as well."""
        super().check_throttles(request)
        if self.action == "create":
            self.throttle_scope = PROPOSAL_THROTTLE_SCOPE
            super().check_throttles(request)

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Any:
        """See ApiViewSet.list_records."""
        return self.list_records(request)

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Any:
        """See ApiViewSet.retrieve_record."""
        return self.retrieve_record(request)

    def etag_headers(self, instance: Any) -> dict[str, str]:
        """The proposal's version: what If-Match must name to decide it."""
        return {"ETag": quote_etag(str(instance.version))}

    def _respond(self, proposal: Proposal, code: int = status.HTTP_200_OK) -> Response:
        proposal = self.get_queryset().get(pk=proposal.pk)
        headers = self.etag_headers(proposal)
        if code == status.HTTP_201_CREATED:
            headers["Location"] = reverse("api:proposal-detail", kwargs={"uuid": proposal.uuid})
        return Response(self.get_serializer(proposal).data, status=code, headers=headers)

    @extend_schema(
        summary="Propose a status update",
        description=(
            "For a published commitment your organisation leads, partners or funds; any other commitment is a "
            "404, as an unknown one is. The content is held to the rules of a status update (not dated in the "
            "future, a change of confidence explained, money spent only where the commitment carries money). "
            "Partners whose account belongs to an organisation only; staff write updates instead (403). Counted "
            "against the proposal rate (`API_THROTTLE_PROPOSAL`) as well as the write rate."
        ),
        request=ProposalWriteSerializer,
        responses={201: OpenApiResponse(ProposalSerializer, description="The proposal, waiting for a decision.")},
        examples=[
            OpenApiExample(
                "A proposal",
                value={
                    "commitment": "SD2-IDEAS-HARP-S2",
                    "as_of": "2026-06-30",
                    "status": "in_progress",
                    "confidence": "amber_green",
                    "progress": 40,
                    "narrative": "The first awards of the programme have been made.",
                    "evidence_links": [{"url": "https://wellcome.org/", "title": "Announcement"}],
                },
                request_only=True,
            )
        ],
    )
    def create(self, request: Request) -> Response:
        """Propose through ``proposals.proposal_create``."""
        serializer = ProposalWriteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        links = [services.EvidenceLinkData(**link) for link in data.pop("evidence_links", [])]
        commitment = Commitment.objects.filter(reference=data.pop("commitment")).first()
        try:
            proposal = proposals.proposal_create(
                author=request.user, commitment=commitment, evidence_links=links, **data
            )
        except proposals.ProposalCommitmentNotFound:
            # The body of GET /commitments/{reference}/ for a commitment that does not exist for the user.
            raise NotFound(COMMITMENT_NOT_FOUND) from None
        return self._respond(proposal, status.HTTP_201_CREATED)

    @_decision_docs(
        "Accept a proposal",
        "A pending proposal becomes a draft status update written by you, crediting the proposing organisation "
        "(`proposed_by`). Submit it for review next; four eyes: another reviewer approves it. 409 if the "
        "proposal was decided already.",
    )
    @action(detail=True, methods=["post"])
    def accept(self, request: Request, uuid: str) -> Response:
        """``proposals.proposal_accept``."""
        proposal = self.get_object()
        self.expect_version(request, proposal)
        return self._respond(proposals.proposal_accept(proposal=proposal, reviewer=request.user))

    @_decision_docs(
        "Decline a proposal",
        "A pending proposal is declined with the reason, which the proposing organisation's partners read. "
        "409 if the proposal was decided already.",
        request=DeclineSerializer,
    )
    @action(detail=True, methods=["post"])
    def decline(self, request: Request, uuid: str) -> Response:
        """``proposals.proposal_decline``."""
        proposal = self.get_object()
        self.expect_version(request, proposal)
        serializer = DeclineSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        reason = serializer.validated_data["reason"]
        return self._respond(proposals.proposal_decline(proposal=proposal, reviewer=request.user, reason=reason))

"""How documents, themes, organisations, the commitment's own parts and status updates look in the API.

Records are identified by their reference, code or UUID, never by database id. The commitment record as a
whole shows its money and programmes too, so it is composed above this app
(``programmes.api.serializers.CommitmentSerializer``) from the parts here.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from commitments.delivery import DeliveryConfidence, DeliveryStatus
from commitments.models import (
    NARRATIVE_MAX_LENGTH,
    Commitment,
    CommitmentOrganisation,
    Document,
    EvidenceLink,
    Framework,
    Organisation,
    StatusUpdate,
    Theme,
)
from lsis.api.fields import RecordField, StrictCharField, StrictDecimalField, StrictIntegerField, WebLinkField


class DocumentSerializer(serializers.ModelSerializer):
    """A strategy document or deal."""

    class Meta:
        model = Document
        fields = ["code", "uuid", "title", "kind", "published_on", "published_label"]


class DocumentRefSerializer(serializers.ModelSerializer):
    """A document, named."""

    class Meta:
        model = Document
        fields = ["code", "title"]


class FrameworkSerializer(serializers.ModelSerializer):
    """A way of classifying commitments."""

    source_document: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(slug_field="code", read_only=True)

    class Meta:
        model = Framework
        fields = ["code", "uuid", "name", "source_document", "source_quote"]


class ThemeSerializer(serializers.ModelSerializer):
    """A theme, foundation or area."""

    framework: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(slug_field="code", read_only=True)
    parent: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(  # type: ignore[assignment]
        slug_field="uuid", read_only=True, allow_null=True, help_text="UUID of the foundation."
    )
    source_document: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(slug_field="code", read_only=True)

    class Meta:
        model = Theme
        fields = [
            "uuid",
            "code",
            "name",
            "kind",
            "framework",
            "parent",
            "statement",
            "context",
            "position",
            "source_document",
            "source_quote",
        ]


class ThemeRefSerializer(serializers.ModelSerializer):
    """A theme, named."""

    framework = serializers.CharField(source="framework.code", read_only=True)

    class Meta:
        model = Theme
        fields = ["uuid", "code", "name", "framework"]


class ClassificationRefSerializer(serializers.ModelSerializer):
    """A foundation or area, named."""

    class Meta:
        model = Theme
        fields = ["code", "name"]


class OrganisationSerializer(serializers.ModelSerializer):
    """An organisation taking part in commitments."""

    aliases: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="name", many=True, read_only=True
    )

    class Meta:
        model = Organisation
        fields = ["uuid", "name", "kind", "aliases", "modified_at"]


class InvolvementSerializer(serializers.ModelSerializer):
    """An organisation's part in a commitment."""

    uuid = serializers.UUIDField(source="organisation.uuid", read_only=True)
    name = serializers.CharField(source="organisation.name", read_only=True)

    class Meta:
        model = CommitmentOrganisation
        fields = ["uuid", "name", "role"]


class DeliveryStateSerializer(serializers.Serializer):
    """A commitment's current delivery state: its latest approved update's, by as-of date."""

    status = serializers.ChoiceField(choices=DeliveryStatus.choices, source="delivery_status")
    confidence = serializers.ChoiceField(
        choices=DeliveryConfidence.choices,
        allow_blank=True,
        source="delivery_confidence",
        help_text="Empty: not rated.",
    )
    progress = serializers.IntegerField(allow_null=True, min_value=0, max_value=100)
    as_of = serializers.DateField(allow_null=True, source="delivery_as_of")


class MilestoneRefSerializer(serializers.Serializer):
    """A dated step towards a commitment (its owner is staff's business, never shown here)."""

    title = serializers.CharField()
    due_on = serializers.DateField()
    done_on = serializers.DateField(allow_null=True, help_text="Null while not done.")
    overdue = serializers.BooleanField(help_text="Due day passed and not done by today.")


class DependsOnSerializer(serializers.Serializer):
    """A commitment whose delivery this one waits on (published ones only, for partners)."""

    reference = serializers.CharField()
    note = serializers.CharField(help_text="How the one depends on the other; may be empty.")


class NeededBySerializer(serializers.Serializer):
    """A commitment whose delivery waits on this one (published ones only, for partners)."""

    reference = serializers.CharField()


class EvidenceLinkSerializer(serializers.ModelSerializer):
    """A link to evidence an update cites."""

    url = WebLinkField(max_length=500, label="URL")
    title = StrictCharField(max_length=300)

    class Meta:
        model = EvidenceLink
        fields = ["url", "title"]


class WorkflowSerializer(serializers.Serializer):
    """Where an update is in review (staff only; partners see approved updates and never this)."""

    state = serializers.CharField()
    version = serializers.IntegerField(help_text="Send it back in If-Match to change the update.")
    author = serializers.CharField(source="author.username", allow_null=True, default=None)
    submitted_at = serializers.DateTimeField(allow_null=True)
    reviewed_by = serializers.CharField(source="reviewed_by.username", allow_null=True, default=None)
    reviewed_at = serializers.DateTimeField(allow_null=True)
    return_reason = serializers.CharField(help_text="Why a reviewer returned the update.")


class ProposedBySerializer(serializers.Serializer):
    """Who proposed an update that began as a partner's proposal (``commitments.proposals``)."""

    organisation = serializers.CharField(help_text="The proposing organisation's name.")
    # Not required in the schema: only staff receive it.
    person = serializers.CharField(required=False, help_text="Staff only: the partner user who proposed it.")


class StatusUpdateSerializer(serializers.ModelSerializer):
    """A dated statement of where delivery of a commitment stands."""

    commitment: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(slug_field="reference", read_only=True)
    evidence_links = EvidenceLinkSerializer(many=True, read_only=True)
    supersedes: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="uuid", read_only=True, allow_null=True
    )
    source_document: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="code", read_only=True, allow_null=True
    )
    # Declared so that the schema allows the empty value (not rated); the serializer is only ever read.
    confidence = serializers.ChoiceField(
        choices=DeliveryConfidence.choices, allow_blank=True, help_text="Empty: not rated."
    )
    proposed_by = serializers.SerializerMethodField(
        help_text="Null unless the update began as a partner's proposal: then who proposed it."
    )
    # Not read-only, so that the schema does not require it: partners never receive it.
    workflow = WorkflowSerializer(source="*", required=False)

    class Meta:
        model = StatusUpdate
        fields = [
            "uuid",
            "commitment",
            "as_of",
            "status",
            "confidence",
            "progress",
            "narrative",
            "funding_spent",
            "evidence_links",
            "supersedes",
            "source_document",
            "source_quote",
            "approved_at",
            "proposed_by",
            "workflow",
        ]
        read_only_fields = fields[:-1]

    def get_fields(self) -> dict[str, Any]:
        """Leave out the review workflow for anyone but staff (in JSON and in exports alike)."""
        fields = super().get_fields()
        if not self.context.get("sees_unpublished", True):
            del fields["workflow"]
        return fields

    @extend_schema_field(ProposedBySerializer(allow_null=True))
    def get_proposed_by(self, update: StatusUpdate) -> dict[str, str] | None:
        """The proposing organisation, for everyone; the proposing person too, for staff only."""
        try:
            proposal = update.proposal
        except ObjectDoesNotExist:
            return None
        credit = {"organisation": proposal.organisation.name}
        if self.context.get("sees_unpublished", True):
            author = proposal.author
            credit["person"] = author.get_full_name() or author.get_username()
        return credit


class StatusUpdateWriteSerializer(serializers.Serializer):
    """A new draft update, or changes to one."""

    commitment: serializers.SlugRelatedField[Any] = RecordField(
        slug_field="reference", queryset=Commitment.objects.all(), help_text="The commitment's reference."
    )
    as_of = serializers.DateField(help_text="The date the update is true as of; not in the future.")
    status = serializers.ChoiceField(choices=DeliveryStatus.choices)
    confidence = serializers.ChoiceField(choices=DeliveryConfidence.choices, required=False, allow_blank=True)
    progress = StrictIntegerField(min_value=0, max_value=100, required=False, allow_null=True)
    narrative = StrictCharField(max_length=NARRATIVE_MAX_LENGTH)
    funding_spent = StrictDecimalField(max_digits=16, decimal_places=2, min_value=0, required=False, allow_null=True)
    evidence_links = EvidenceLinkSerializer(many=True, required=False)
    supersedes: serializers.SlugRelatedField[Any] = RecordField(
        slug_field="uuid",
        queryset=StatusUpdate.objects.approved(),
        required=False,
        allow_null=True,
        help_text="UUID of the approved update this one corrects.",
    )


class StatusUpdateEditSerializer(StatusUpdateWriteSerializer):
    """Changes to a draft or returned update (every field optional; the commitment cannot change)."""

    commitment = None  # type: ignore[assignment]
    supersedes = None  # type: ignore[assignment]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["partial"] = True
        super().__init__(*args, **kwargs)


class ReturnSerializer(serializers.Serializer):
    """Why a reviewer returns an update."""

    reason = StrictCharField(max_length=5000, help_text="What the author should put right.")


class GlossaryTermSerializer(serializers.Serializer):
    """One value of a vocabulary and what it means."""

    value = serializers.CharField()
    label = serializers.CharField()  # type: ignore[assignment]
    meaning = serializers.CharField()


class GlossarySerializer(serializers.Serializer):
    """The meaning of every delivery status and confidence value."""

    statuses = GlossaryTermSerializer(many=True)
    confidences = GlossaryTermSerializer(many=True)

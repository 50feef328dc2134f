"""How programmes, funding amounts and the commitment record look in the API.

The commitment record is composed here, above the commitments app: it shows the commitment's money and
programmes, which that app does not know (ADR 0007). Its parts that are the commitment's own (deal,
classification, organisations, delivery state) are the commitments app's serializers.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from commitments import hooks
from commitments.api.serializers import (
    ClassificationRefSerializer,
    DeliveryStateSerializer,
    DependsOnSerializer,
    DocumentRefSerializer,
    InvolvementSerializer,
    MilestoneRefSerializer,
    NeededBySerializer,
    ThemeRefSerializer,
)
from commitments.models import Commitment
from programmes.models import FundingAmount, Programme


class ProgrammeSerializer(serializers.ModelSerializer):
    """A programme, fund, challenge or initiative."""

    funder: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="uuid", read_only=True, allow_null=True, help_text="UUID of the funder."
    )
    parent: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(  # type: ignore[assignment]
        slug_field="uuid", read_only=True, allow_null=True, help_text="UUID of the parent."
    )
    source_document: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(slug_field="code", read_only=True)

    class Meta:
        model = Programme
        fields = ["uuid", "name", "short_name", "kind", "funder", "parent", "source_document", "source_quote"]


class FundingAmountSerializer(serializers.ModelSerializer):
    """An amount of money as a document states it, with its bounds in pounds."""

    funder: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="uuid", read_only=True, allow_null=True, help_text="UUID of the funder."
    )
    joint_funders: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="uuid",
        many=True,
        read_only=True,
        help_text="UUIDs of the organisations the text names as funding the amount jointly (then `funder` is null).",
    )
    commitment: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="reference", read_only=True, allow_null=True
    )
    programme: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="uuid", read_only=True, allow_null=True
    )
    # The view annotates the key, null where the larger amount does not exist for the user.
    part_of = serializers.CharField(
        source="part_of_key",
        read_only=True,
        allow_null=True,
        help_text="Key of the larger amount this one is part of.",
    )
    source_document: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(slug_field="code", read_only=True)

    class Meta:
        model = FundingAmount
        fields = [
            "key",
            "uuid",
            "amount_text",
            "qualifier",
            "low",
            "high",
            "nature",
            "period_text",
            "funder",
            "joint_funders",
            "commitment",
            "programme",
            "part_of",
            "source_document",
            "source_quote",
        ]


class FundingRefSerializer(serializers.ModelSerializer):
    """An amount of money attached to a commitment, as written and as bounds in pounds."""

    funder: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="uuid", read_only=True, allow_null=True, help_text="UUID of the funder."
    )
    joint_funders: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="uuid",
        many=True,
        read_only=True,
        help_text="UUIDs of the organisations the text names as funding the amount jointly (then `funder` is null).",
    )

    class Meta:
        model = FundingAmount
        fields = ["key", "amount_text", "qualifier", "low", "high", "nature", "period_text", "funder", "joint_funders"]


class ProgrammeRefSerializer(serializers.ModelSerializer):
    """A programme, named."""

    class Meta:
        model = Programme
        fields = ["uuid", "name", "short_name"]


class CommitmentSerializer(serializers.ModelSerializer):
    """A commitment as printed, with its classification, organisations, money and delivery state."""

    deal = DocumentRefSerializer(read_only=True)
    foundation = ClassificationRefSerializer(read_only=True)
    area = ClassificationRefSerializer(read_only=True, allow_null=True)
    themes = ThemeRefSerializer(many=True, read_only=True)
    source_document: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(slug_field="code", read_only=True)
    parent = serializers.CharField(  # type: ignore[assignment]
        source="parent_reference", read_only=True, allow_null=True, help_text="The commitment this is a sub-item of."
    )
    children: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="reference", many=True, read_only=True
    )
    continues = serializers.CharField(
        source="continues_reference",
        read_only=True,
        allow_null=True,
        help_text="The commitment of an earlier deal this one continues.",
    )
    elaborates = serializers.CharField(
        source="elaborates_reference",
        read_only=True,
        allow_null=True,
        help_text="The key commitment this one elaborates.",
    )
    organisations = InvolvementSerializer(source="involvements", many=True, read_only=True)
    funding = FundingRefSerializer(many=True, read_only=True)
    programmes = ProgrammeRefSerializer(many=True, read_only=True)
    delivery = DeliveryStateSerializer(source="*", read_only=True)
    overdue = serializers.BooleanField(
        source="is_overdue", read_only=True, help_text="Target date passed, not delivered, not withdrawn."
    )

    baseline_date = serializers.DateField(
        source="target_date",
        read_only=True,
        allow_null=True,
        help_text="The deadline the documents print: the baseline, which stays when the deadline is re-baselined.",
    )
    forecast_date = serializers.DateField(
        read_only=True, allow_null=True, help_text="The deadline as re-baselined by an approved request; null if never."
    )
    owning_team = serializers.SerializerMethodField(help_text="The team that owns the commitment (never a person).")
    milestones = serializers.SerializerMethodField()
    depends_on = serializers.SerializerMethodField()
    needed_by = serializers.SerializerMethodField()

    # What follows reads each commitment's rows one by one: the declared shape, for the schema and the test
    # holding ``programmes.api.representation`` (which reads a page's rows at once) to it.

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_owning_team(self, commitment: Commitment) -> str | None:
        """The owner's team, or null."""
        try:
            team = commitment.owner.staff_profile.team if commitment.owner is not None else ""
        except ObjectDoesNotExist:
            team = ""
        return team or None

    @extend_schema_field(MilestoneRefSerializer(many=True))
    def get_milestones(self, commitment: Commitment) -> list[dict[str, Any]]:
        """The milestones by due day, each overdue or not today (the metrics app's rule, through a hook)."""
        milestones = hooks.pipe(
            hooks.ANNOTATE_MILESTONE_OVERDUE, commitment.milestones.order_by("due_on", "pk"), on=timezone.localdate()
        )
        return [
            MilestoneRefSerializer({**vars(milestone), "overdue": milestone.is_overdue}).data
            for milestone in milestones
        ]

    def _published_only(self) -> bool:
        return not self.context.get("sees_unpublished", False)

    @extend_schema_field(DependsOnSerializer(many=True))
    def get_depends_on(self, commitment: Commitment) -> list[dict[str, Any]]:
        """The commitments this one waits on, by reference."""
        rows = commitment.dependencies.select_related("depends_on").order_by("depends_on__reference")
        if self._published_only():
            rows = rows.filter(depends_on__published=True)
        return [{"reference": row.depends_on.reference, "note": row.note} for row in rows]

    @extend_schema_field(NeededBySerializer(many=True))
    def get_needed_by(self, commitment: Commitment) -> list[dict[str, Any]]:
        """The commitments waiting on this one, by reference."""
        rows = commitment.dependents.select_related("commitment").order_by("commitment__reference")
        if self._published_only():
            rows = rows.filter(commitment__published=True)
        return [{"reference": row.commitment.reference} for row in rows]

    class Meta:
        model = Commitment
        fields = [
            "reference",
            "uuid",
            "deal",
            "foundation",
            "area",
            "themes",
            "actor",
            "section",
            "position",
            "lead_in",
            "text",
            "source_document",
            "source_quote",
            "parent",
            "children",
            "continues",
            "elaborates",
            "organisations",
            "funding",
            "programmes",
            "target_date_text",
            "timing_kind",
            "starts_on",
            "target_date",
            "baseline_date",
            "forecast_date",
            "jobs",
            "jobs_text",
            "delivery",
            "overdue",
            "owning_team",
            "milestones",
            "depends_on",
            "needed_by",
            "published",
            "modified_at",
        ]

"""How programmes, funding amounts and the commitment record look in the API.

The commitment record is composed here, above the commitments app: it shows the commitment's money and
programmes, which that app does not know (ADR 0007). Its parts that are the commitment's own (deal,
classification, organisations, delivery state) are the commitments app's serializers.
"""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from commitments.api.serializers import (
    ClassificationRefSerializer,
    DeliveryStateSerializer,
    DocumentRefSerializer,
    InvolvementSerializer,
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
            "jobs",
            "jobs_text",
            "delivery",
            "overdue",
            "published",
            "modified_at",
        ]

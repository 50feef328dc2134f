"""How programmes and funding amounts look in the API."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

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
            "commitment",
            "programme",
            "part_of",
            "source_document",
            "source_quote",
        ]

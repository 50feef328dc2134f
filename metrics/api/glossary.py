"""The API's glossary: the meanings ``metrics.glossary`` holds, the same the ``/glossary/`` page shows."""

from __future__ import annotations

from dataclasses import asdict

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from lsis.api.views import ApiViewSet
from metrics.glossary import glossary


class GlossaryTermSerializer(serializers.Serializer):
    """One value of a vocabulary and what it means."""

    value = serializers.CharField()
    label = serializers.CharField()  # type: ignore[assignment]
    meaning = serializers.CharField()


class MoneyNatureSerializer(GlossaryTermSerializer):
    """A nature of money, and whether the money totals add it up."""

    totalled = serializers.BooleanField(
        help_text="Added up in the money figures (each nature apart from the others); false: shown, never added."
    )


class GlossarySerializer(serializers.Serializer):
    """The meaning of every delivery status, confidence rating, measure and nature of money."""

    statuses = GlossaryTermSerializer(many=True)
    confidences = GlossaryTermSerializer(many=True)
    measures = GlossaryTermSerializer(many=True, help_text="The quarterly figures of /metrics/, by field name.")
    money_natures = MoneyNatureSerializer(many=True)


class GlossaryViewSet(ApiViewSet):
    """What every delivery status, confidence rating, measure and nature of money means (``metrics.glossary``)."""

    pagination_class = None
    filter_backends = []
    serializer_class = GlossarySerializer

    @extend_schema(
        summary="Meanings of the status and confidence values, the measures and the natures of money",
        description="Published from the definitions the tracker itself uses; the /glossary/ page shows the same.",
        responses={200: GlossarySerializer},
    )
    def glossary(self, request: Request) -> Response:
        """The four vocabularies, each value with its label and meaning."""
        return Response(GlossarySerializer(asdict(glossary())).data)

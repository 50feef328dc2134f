"""Spreadsheet round-trip (django-import-export): export commitments and updates, import updates as drafts."""

from __future__ import annotations

from import_export import fields, resources

from commitments.models import Commitment, StatusUpdate


class CommitmentExportResource(resources.ModelResource):
    """Commitments with their classification and current delivery state."""

    deal = fields.Field(attribute="deal__code", column_name="deal")
    foundation = fields.Field(attribute="foundation__name", column_name="foundation")
    area = fields.Field(attribute="area__name", column_name="area")

    class Meta:
        model = Commitment
        fields = (
            "reference",
            "deal",
            "foundation",
            "area",
            "actor",
            "text",
            "target_date_text",
            "target_date",
            "delivery_status",
            "delivery_confidence",
            "progress",
            "delivery_as_of",
            "published",
        )
        export_order = fields

    def get_queryset(self):  # type: ignore[no-untyped-def]
        """Join what every row shows, once."""
        return Commitment.objects.with_classification()


class StatusUpdateResource(resources.ModelResource):
    """Status updates, keyed by commitment reference and as-of date."""

    commitment = fields.Field(attribute="commitment__reference", column_name="commitment")

    class Meta:
        model = StatusUpdate
        fields = ("commitment", "as_of", "status", "confidence", "progress", "narrative", "funding_spent", "state")
        export_order = fields

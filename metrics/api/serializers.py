"""How reporting quarters and quarterly figures look in the API."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from rest_framework import serializers

from metrics.models import QuarterMetric, ReportingQuarter
from metrics.rules import Population


def quarter_code(quarter: ReportingQuarter) -> str:
    """The quarter's identifier in URLs and filters: its label with a hyphen, e.g. ``2019-20-Q1``."""
    return quarter.quarter.label.replace(" ", "-")


class ReportingQuarterSerializer(serializers.ModelSerializer):
    """A financial-year quarter and whether the board has signed its figures off."""

    code = serializers.SerializerMethodField(help_text="E.g. 2019-20-Q1.")
    label = serializers.SerializerMethodField(help_text="E.g. 2019-20 Q1.")  # type: ignore[assignment]
    start = serializers.SerializerMethodField()
    end = serializers.SerializerMethodField()
    locked = serializers.BooleanField(source="is_locked", read_only=True, help_text="Signed off by the board.")

    class Meta:
        model = ReportingQuarter
        fields = ["code", "label", "year", "number", "start", "end", "locked", "locked_at"]

    def get_code(self, quarter: ReportingQuarter) -> str:
        """E.g. 2019-20-Q1."""
        return quarter_code(quarter)

    def get_label(self, quarter: ReportingQuarter) -> str:
        """E.g. 2019-20 Q1."""
        return quarter.quarter.label

    def get_start(self, quarter: ReportingQuarter) -> Any:
        """The first day."""
        return serializers.DateField().to_representation(quarter.quarter.start)

    def get_end(self, quarter: ReportingQuarter) -> Any:
        """The last day."""
        return serializers.DateField().to_representation(quarter.quarter.end)


class QuarterMetricSerializer(serializers.ModelSerializer):
    """The delivery figures of one scope for one quarter, as of the quarter's last day (docs/metrics.md)."""

    quarter = serializers.SerializerMethodField(help_text="Quarter code, e.g. 2019-20-Q1.")
    as_of = serializers.DateField(
        read_only=True,
        help_text="The day the figures describe: the quarter's last day; for the quarter in progress (listed only "
        "when quarter names it), the day its figures so far were computed for, never a day still to come.",
    )
    locked = serializers.BooleanField(source="quarter.is_locked", read_only=True)
    population = serializers.ChoiceField(
        choices=Population.choices,
        read_only=True,
        help_text="Which commitments the figures count: key (the deals' key commitments) or all (chapter "
        "elaborations and sub-items too).",
    )
    share_delivered = serializers.DecimalField(
        max_digits=7,
        decimal_places=4,
        read_only=True,
        allow_null=True,
        help_text="delivered / commitments: a share of every commitment counted. Null where none is counted.",
    )
    mean_progress = serializers.DecimalField(
        max_digits=7,
        decimal_places=2,
        read_only=True,
        allow_null=True,
        help_text="progress_total / progress_reported: the mean of the progress_reported commitments reporting a "
        "figure, not of every commitment. Null where none reports one.",
    )
    freshness = serializers.DecimalField(
        max_digits=7,
        decimal_places=4,
        read_only=True,
        allow_null=True,
        help_text="updates_done / updates_due: the share of the commitments the quarter's update is due from that "
        "have an approved update as of a day in the quarter. Null where none is due.",
    )
    updating = serializers.SerializerMethodField(
        help_text="Approved updates are waiting to be counted: figures may change within seconds."
    )

    class Meta:
        model = QuarterMetric
        fields = [
            "quarter",
            "as_of",
            "locked",
            "basis",
            "population",
            "scope_type",
            "scope_key",
            "scope_label",
            "commitments",
            "not_started",
            "in_progress",
            "delivered",
            "not_being_pursued",
            "green",
            "amber_green",
            "amber",
            "amber_red",
            "red",
            "no_confidence",
            "progress_reported",
            "progress_total",
            "mean_progress",
            "share_delivered",
            "overdue",
            "stale",
            "new_money_low",
            "new_money_high",
            "new_money_open_ended",
            "restated_low",
            "restated_high",
            "target_low",
            "target_high",
            "spent",
            "improved",
            "worsened",
            "status_changed",
            "newly_delivered",
            "newly_rated",
            "rating_withdrawn",
            "updates_due",
            "updates_done",
            "freshness",
            "milestones_overdue",
            "computed_at",
            "updating",
        ]

    def get_quarter(self, metric: QuarterMetric) -> str:
        """E.g. 2019-20-Q1."""
        return quarter_code(metric.quarter)

    def get_updating(self, metric: QuarterMetric) -> bool:
        """Read once per request by the view."""
        return bool(self.context.get("updating", False))

    def to_representation(self, instance: QuarterMetric) -> dict[str, Any]:
        """Round the derived ratios."""
        data = super().to_representation(instance)
        for name in ("share_delivered", "mean_progress", "freshness"):
            value = getattr(instance, name)
            places = "0.01" if name == "mean_progress" else "0.0001"
            data[name] = None if value is None else str(Decimal(value).quantize(Decimal(places)))
        return data

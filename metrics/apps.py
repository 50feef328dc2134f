"""App configuration."""

from django.apps import AppConfig


class MetricsConfig(AppConfig):
    """Progress metrics and sector reference statistics."""

    verbose_name = "Metrics"

    name = "metrics"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        """Move the data stamp on every change of the metrics rows people read (``lsis.core.changes``).

        Derived rows written in bulk are left out: the services that write them move the stamp themselves.
        """
        from lsis.core.changes import track_app

        track_app(self, untracked=["DeliverySpan", "QuarterMetric", "RecomputeMarker"])

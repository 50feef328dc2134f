"""App configuration."""

from django.apps import AppConfig


class MetricsConfig(AppConfig):
    """Progress metrics and sector reference statistics."""

    verbose_name = "Metrics"

    name = "metrics"
    default_auto_field = "django.db.models.BigAutoField"

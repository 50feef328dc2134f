"""App configuration."""

from django.apps import AppConfig


class CommitmentsConfig(AppConfig):
    """Strategy documents, themes, organisations, commitments and their status updates."""

    verbose_name = "Commitments"

    name = "commitments"
    default_auto_field = "django.db.models.BigAutoField"

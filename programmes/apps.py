"""App configuration."""

from django.apps import AppConfig


class ProgrammesConfig(AppConfig):
    """Programmes, funds and funding amounts."""

    verbose_name = "Programmes and funding"

    name = "programmes"
    default_auto_field = "django.db.models.BigAutoField"

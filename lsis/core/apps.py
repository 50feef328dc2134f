"""App configuration."""

from django.apps import AppConfig


class CoreConfig(AppConfig):
    """The data stamp, which every tracked app registers its models with (``lsis.core.changes``)."""

    verbose_name = "Core"

    name = "lsis.core"
    label = "core"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        """Move the data stamp on every change of users, groups and API tokens; the apps register their own."""
        from lsis.core.changes import track_accounts

        track_accounts()

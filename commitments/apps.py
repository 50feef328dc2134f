"""App configuration."""

from django.apps import AppConfig


class CommitmentsConfig(AppConfig):
    """Strategy documents, themes, organisations, commitments and their status updates."""

    verbose_name = "Commitments"

    name = "commitments"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        """Move the data stamp on every change of the data people read (``lsis.core.changes``)."""
        from commitments import feed_kinds
        from lsis.core.changes import track_app

        track_app(self)
        feed_kinds.register()  # the change feed's kinds of this app (lsis.core.feed)

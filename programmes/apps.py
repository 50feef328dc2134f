"""App configuration."""

from django.apps import AppConfig


class ProgrammesConfig(AppConfig):
    """Programmes, funds and funding amounts."""

    verbose_name = "Programmes and funding"

    name = "programmes"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        """Move the data stamp on every change of programmes and funding (``lsis.core.changes``)."""
        from lsis.core.changes import track_app
        from programmes import feed_kinds

        track_app(self)
        feed_kinds.register()  # the change feed's kinds of this app (lsis.core.feed)

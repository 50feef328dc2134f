"""App configuration."""

from django.apps import AppConfig


class CoreConfig(AppConfig):
    """What every app shares: the data stamp, staff's profiles, and the messages sent with their reminders.

    Every tracked app registers its models with the data stamp (``lsis.core.changes``).
    """

    # What staff find under it in the admin: the messages sent, and the reminders they carried.
    verbose_name = "Messages and reminders"

    name = "lsis.core"
    label = "core"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        """Move the data stamp on every change of users, groups and API tokens (the apps register their own)."""
        from lsis.core.changes import track_accounts
        from lsis.sessions import session_tracking_connect

        track_accounts()
        session_tracking_connect()  # every sign-in starts the idle and longest-time clocks (lsis/sessions.py)

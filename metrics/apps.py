"""App configuration."""

from django.apps import AppConfig


class MetricsConfig(AppConfig):
    """Progress metrics and sector reference statistics."""

    verbose_name = "Metrics"

    name = "metrics"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        """Move the data stamp on every change of the metrics rows people read, and follow the workflow.

        ``lsis.core.changes`` moves the stamp; ``commitments.hooks`` tells of approvals, publications and
        withdrawals, each handled in the transaction that made it: an approval stores the delivery state
        it gives, and each marks the figures stale. The API's commitments read overdue from ``metrics.rules``.

        Derived rows written in bulk are left out: the services that write them move the stamp themselves.
        """
        from commitments import hooks
        from lsis.core.changes import track_app
        from metrics import rules
        from metrics.labels import scope_labels_follow
        from metrics.services import (
            metrics_before_delete,
            metrics_mark_changing,
            on_publication_changed,
            on_update_approved,
        )

        track_app(self, untracked=["DayState", "DeliverySpan", "QuarterMetric", "RecomputeMarker"])
        from metrics import feed_kinds

        feed_kinds.register()  # the change feed's kinds of this app (lsis.core.feed)
        hooks.register(hooks.UPDATE_APPROVED, on_update_approved)
        hooks.register(hooks.PUBLICATION_CHANGED, on_publication_changed)
        # Edits of commitments themselves (their dates, scopes, money), and their deletion.
        hooks.register(hooks.COMMITMENTS_CHANGING, metrics_mark_changing)
        hooks.register(hooks.COMMITMENTS_DELETING, metrics_before_delete)
        # A renamed deal, theme, organisation or programme relabels its figures.
        hooks.register(hooks.RECORD_RENAMED, scope_labels_follow)
        # Overdue is a rule of this app: the API's commitments read it from here.
        hooks.register(hooks.ANNOTATE_OVERDUE, rules.with_overdue)
        hooks.register(hooks.ANNOTATE_MILESTONE_OVERDUE, rules.with_milestone_overdue)

"""The commitment admin's filters that read delivery rules: overdue and stale (``metrics.rules``).

The commitments app sits below this one and holds no rule of delivery, so ``metrics.admin`` adds these to
its commitment list. Both read the stored state, which is the state now.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from commitments.periods import Quarter
from metrics import rules


class OverdueFilter(admin.SimpleListFilter):
    """Commitments overdue today (``rules.overdue_condition``)."""

    title = "overdue"
    parameter_name = "overdue"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        """One choice: overdue."""
        return [("yes", "Overdue (target date passed, not delivered or withdrawn)")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        """Keep those overdue today."""
        if self.value() == "yes":
            return queryset.filter(rules.overdue_condition(on=timezone.localdate()))
        return queryset


class StaleFilter(admin.SimpleListFilter):
    """Commitments with no approved update in the current quarter (``rules.stale_condition``)."""

    title = "updates this quarter"
    parameter_name = "stale"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        """One choice: stale this quarter."""
        quarter = Quarter.containing(timezone.localdate())
        return [("yes", f"No approved update in {quarter.label}")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        """Keep those stale this quarter."""
        if self.value() == "yes":
            quarter = Quarter.containing(timezone.localdate())
            return queryset.filter(rules.stale_condition(start=quarter.start, end=quarter.end))
        return queryset


def attach(model_admin_class: Any) -> None:
    """Add the filters to a commitment admin's ``list_filter`` (once)."""
    current = tuple(model_admin_class.list_filter)
    if OverdueFilter not in current:
        model_admin_class.list_filter = (*current, OverdueFilter, StaleFilter)

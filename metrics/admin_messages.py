"""The reminders' ledger and the messages sent, read-only in the admin (administrators and reviewers).

Nothing here is added, changed or deleted by hand: the reminder runs write the rows and the deliveries
record what became of them. The list of messages filters by status, so permanent failures show.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from lsis.admin import GuardedAdminMixin
from lsis.core.models import Message, Reminder


class _ReadOnlyAdmin(GuardedAdminMixin, admin.ModelAdmin):
    """Viewing only, for those with the model's view permission; every write answers 403."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ReminderInline(admin.TabularInline):
    model = Reminder
    fields = ("kind", "period", "detail", "created_at")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Message)
class MessageAdmin(_ReadOnlyAdmin):
    list_display = ("key", "recipient", "address", "status", "attempts", "provider_status", "created_at", "sent_at")
    list_filter = ("status", "provider_status")
    search_fields = ("address", "recipient__username", "key", "provider_reference")
    list_select_related = ("recipient",)
    date_hierarchy = "created_at"
    readonly_fields = (
        "recipient",
        "key",
        "address",
        "subject",
        "body",
        "status",
        "attempts",
        "error",
        "provider_reference",
        "provider_status",
        "run",
        "created_at",
        "sent_at",
    )
    fields = readonly_fields
    inlines = [ReminderInline]
    actions = None


@admin.register(Reminder)
class ReminderAdmin(_ReadOnlyAdmin):
    list_display = ("kind", "period", "recipient", "message", "created_at")
    list_filter = ("kind", "message__status")
    search_fields = ("recipient__username", "period", "detail")
    list_select_related = ("recipient", "message")
    readonly_fields = ("recipient", "kind", "period", "message", "detail", "created_at")
    fields = readonly_fields
    actions = None

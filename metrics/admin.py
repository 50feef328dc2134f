"""Admin for the quarterly figures (read-only), quarter sign-off, open-data releases, and sector statistics."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.html import format_html, format_html_join

from lsis.admin import GuardedAdminMixin
from metrics import admin_filters, admin_messages  # noqa: F401 (registers the messages' admin)
from metrics.models import QuarterMetric, RegionalStatistic, Release, ReleaseFile, ReportingQuarter, ScopeType
from metrics.releases import PUBLISH_PERMISSION, release_publish
from metrics.services import QuarterNotOverError, quarter_lock
from programmes.admin_commitments import CommitmentAdmin

# The commitment list's filters by delivery rule (overdue, stale) are this app's.
admin_filters.attach(CommitmentAdmin)


@admin.register(RegionalStatistic)
class RegionalStatisticAdmin(GuardedAdminMixin, admin.ModelAdmin):
    list_display = ("region", "region_as_printed", "employment", "turnover_text", "turnover_millions")
    search_fields = ("region",)
    readonly_fields = ("uuid", "created_at", "modified_at")


class QuarterMetricInline(admin.TabularInline):
    model = QuarterMetric
    fields = (
        "basis",
        "population",
        "scope_type",
        "scope_label",
        "commitments",
        "delivered",
        "in_progress",
        "overdue",
        "stale",
    )
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_queryset(self, request: HttpRequest) -> QuerySet[QuarterMetric]:
        return super().get_queryset(request).filter(scope_type=ScopeType.TRACKER)


@admin.register(ReportingQuarter)
class ReportingQuarterAdmin(GuardedAdminMixin, admin.ModelAdmin):
    list_display = ("__str__", "start", "end", "locked_at", "locked_by")
    list_filter = (("locked_at", admin.EmptyFieldListFilter),)
    readonly_fields = ("year", "number", "locked_at", "locked_by")
    inlines = [QuarterMetricInline]
    actions = ["sign_off_selected", "publish_restatement"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # quarters are created by the recompute

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_lock_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("metrics.lock_reportingquarter")

    def has_publish_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(PUBLISH_PERMISSION)

    @admin.display(description="From")
    def start(self, row: ReportingQuarter) -> date:
        return row.quarter.start

    @admin.display(description="To")
    def end(self, row: ReportingQuarter) -> date:
        return row.quarter.end

    @admin.action(description="Record the board's sign-off of the selected quarters", permissions=["lock"])
    def sign_off_selected(self, request: HttpRequest, queryset: QuerySet[ReportingQuarter]) -> HttpResponse | None:
        """Ask for confirmation on a page of its own, then record the sign-off (``quarter_lock``)."""
        if request.POST.get("confirm") != "yes":
            return TemplateResponse(
                request,
                "admin/metrics/reportingquarter/sign_off_confirmation.html",
                {
                    **self.admin_site.each_context(request),
                    "title": "Record the board's sign-off",
                    "opts": self.model._meta,
                    "quarters": list(queryset),
                    "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
                },
            )
        for row in queryset:
            try:
                quarter_lock(quarter=row.quarter, user=request.user)
            except QuarterNotOverError as refusal:
                self.message_user(request, str(refusal), messages.ERROR)
            else:
                self.message_user(request, f"{row} signed off: its figures are now frozen.", messages.SUCCESS)
        return None

    @admin.action(description="Publish a restatement of the selected quarters' open data", permissions=["publish"])
    def publish_restatement(self, request: HttpRequest, queryset: QuerySet[ReportingQuarter]) -> HttpResponse | None:
        """Ask why on a page of its own, then publish each quarter's data as a new version (``release_publish``).

        A quarter whose data is unchanged since its latest version gets none; one not signed off is refused.
        """
        note = request.POST.get("reason", "").strip()  # "reason", as every admin form asking why names it
        if request.POST.get("confirm") != "yes" or not note:
            return TemplateResponse(
                request,
                "admin/metrics/release/publish_restatement.html",
                {
                    **self.admin_site.each_context(request),
                    "title": "Publish a restatement",
                    "opts": self.model._meta,
                    "quarters": list(queryset),
                    "note": note,
                    "note_missing": request.POST.get("confirm") == "yes" and not note,
                    "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
                },
            )
        for row in queryset:
            try:
                result = release_publish(quarter=row.quarter, user=request.user, note=note)
            except ValidationError as refusal:
                self.message_user(request, " ".join(refusal.messages), messages.ERROR)
                continue
            if result.created:
                self.message_user(request, f"Published {result.release}.", messages.SUCCESS)
            else:
                self.message_user(
                    request, f"{result.release} already holds this data: no new version.", messages.WARNING
                )
        return None


@admin.register(Release)
class ReleaseAdmin(GuardedAdminMixin, admin.ModelAdmin):
    """Published releases, read-only: a version never changes (restatements are published from the quarters)."""

    list_display = ("__str__", "quarter", "version", "published_at", "published_by", "note")
    list_filter = ("quarter",)
    list_select_related = ("quarter", "published_by")
    readonly_fields = ("quarter", "version", "published_at", "published_by", "note", "files_published")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # published by the sign-off, or as a restatement from the quarters' list

    @admin.display(description="Files")
    def files_published(self, release: Release) -> str:
        """Each file's name, size and SHA-256 (read with the release: files have no admin of their own)."""
        rows = ReleaseFile.objects.filter(release=release).defer("content").order_by("position")
        return format_html(
            "<ul>{}</ul>",
            format_html_join(
                "", "<li>{} ({} bytes, SHA-256 {})</li>", ((row.name, row.size, row.sha256) for row in rows)
            ),
        )

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(QuarterMetric)
class QuarterMetricAdmin(GuardedAdminMixin, admin.ModelAdmin):
    list_display = (
        "quarter",
        "basis",
        "population",
        "scope_type",
        "scope_label",
        "commitments",
        "delivered",
        "in_progress",
        "not_started",
        "overdue",
        "stale",
        "computed_at",
    )
    list_filter = ("basis", "population", "scope_type", "quarter")
    search_fields = ("scope_label", "scope_key")
    list_select_related = ("quarter",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # figures are computed, never typed in

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

"""The staff tool: documents, frameworks and themes, organisations, and the tracker's theme classification.

The commitment's own page shows its programmes and money too, so it is composed in the programmes app
(``programmes.admin_commitments``); the status updates' pages are in ``commitments.admin_updates``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from django.contrib import admin
from django.db.models import Count, QuerySet
from django.http import HttpRequest

# Importing the modules registers the status update admin and its review workflow, the requests to change a
# deadline with their decision (four eyes), and partners' proposed updates with their memberships.
from commitments import admin_plan, admin_proposals, admin_updates  # noqa: F401
from commitments.classification import (
    theme_exception_delete,
    theme_exception_save,
    theme_rule_delete,
    theme_rule_save,
)
from commitments.models import Document, Framework, Organisation, OrganisationAlias, Theme, ThemeException, ThemeRule
from commitments.reference_records import (
    organisation_alias_delete,
    organisation_alias_save,
    organisation_save,
    theme_save,
)
from commitments.services import document_create, document_edit
from lsis import admin_accounts  # noqa: F401  # user accounts and roles, without ways to raise one's own rights
from lsis.admin import READ_ONLY_AUDIT_FIELDS, AuditedAdminMixin, ReadOnlyHistoryMixin
from lsis.api import admin_tokens  # noqa: F401  # API tokens: issue and revoke


@admin.register(Document)
class DocumentAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ("code", "title", "kind", "published_label", "source_file")
    list_filter = ("kind",)
    search_fields = ("code", "title")
    readonly_fields = READ_ONLY_AUDIT_FIELDS

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        """Through the services: moving a deal's publication date moves the figures of its commitments."""
        if change:
            document_edit(
                document=obj, user=request.user, changes={name: form.cleaned_data[name] for name in form.changed_data}
            )
        else:
            document_create(document=obj, user=request.user)


class ThemeInline(admin.TabularInline):
    model = Theme
    fields = ("position", "code", "name", "kind", "parent")
    extra = 0
    show_change_link = True
    autocomplete_fields = ("parent",)


@admin.register(Framework)
class FrameworkAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ("code", "name", "source_document")
    search_fields = ("code", "name")
    readonly_fields = READ_ONLY_AUDIT_FIELDS
    inlines = [ThemeInline]

    def save_inline_row(self, request: HttpRequest, instance: Any) -> None:
        """A framework's themes through their service, as on the theme's own page."""
        theme_save(theme=instance, user=request.user)


@admin.register(Theme)
class ThemeAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ("name", "code", "kind", "parent", "framework", "commitment_count")
    list_filter = ("framework", "kind")
    search_fields = ("code", "name", "context")
    autocomplete_fields = ("parent",)
    readonly_fields = READ_ONLY_AUDIT_FIELDS

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        """Through the service: a new name relabels the theme's figures."""
        theme_save(theme=obj, user=request.user)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Theme]:
        """Count each theme's commitments in the same query as the list."""
        return (
            super()
            .get_queryset(request)
            .select_related("framework", "parent")
            .annotate(
                _foundation_count=Count("foundation_commitments", distinct=True),
                _area_count=Count("area_commitments", distinct=True),
                _theme_count=Count("commitments", distinct=True),
            )
        )

    @admin.display(description="Commitments")
    def commitment_count(self, theme: Any) -> int:
        """Commitments classified under the theme, by whichever link applies to its kind."""
        return int(theme._foundation_count + theme._area_count + theme._theme_count)


class OrganisationAliasInline(admin.TabularInline):
    model = OrganisationAlias
    extra = 1


@admin.register(Organisation)
class OrganisationAdmin(AuditedAdminMixin, ReadOnlyHistoryMixin):
    list_display = ("name", "kind", "alias_list", "commitment_count")
    list_filter = ("kind",)
    search_fields = ("name", "aliases__name")
    readonly_fields = READ_ONLY_AUDIT_FIELDS
    inlines = [OrganisationAliasInline]

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        """Through the service: a new name relabels the figures of the commitments the organisation leads."""
        organisation_save(organisation=obj, user=request.user)

    def save_inline_row(self, request: HttpRequest, instance: Any) -> None:
        """An alias through its service: the organisation's commitments are found by it."""
        organisation_alias_save(alias=instance, user=request.user)

    def delete_inline_row(self, request: HttpRequest, instance: Any) -> None:
        """An alias through its service: the organisation's commitments are no longer found by it."""
        organisation_alias_delete(alias=instance, user=request.user)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Organisation]:
        """Load aliases and count commitments without a query per row."""
        return (
            super()
            .get_queryset(request)
            .prefetch_related("aliases")
            .annotate(_commitments=Count("involvements__commitment", distinct=True))
            .order_by("name")
        )

    @admin.display(description="Also printed as")
    def alias_list(self, organisation: Organisation) -> str:
        """Every other spelling of the name."""
        return ", ".join(alias.name for alias in organisation.aliases.all())

    @admin.display(description="Commitments", ordering="_commitments")
    def commitment_count(self, organisation: Any) -> int:
        """Commitments the organisation takes part in."""
        return int(organisation._commitments)


# --- the tracker's theme classification (commitments.classification) ---------------------------------------
#
# Every write goes through the classification's services, which store the commitments' themes through the
# commitment edit service, so that the figures follow.


class _ClassificationAdmin(AuditedAdminMixin, ReadOnlyHistoryMixin):
    readonly_fields = ("created_at", "created_by", "modified_at", "modified_by")
    save_service: ClassVar[Callable[..., Any]]
    delete_service: ClassVar[Callable[..., Any]]

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        """Through the classification's service: the commitments it classifies follow, and their figures."""
        type(self).save_service(obj, request.user)

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        """Through the classification's service."""
        type(self).delete_service(obj, request.user)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        """The bulk delete action: each through the classification's service."""
        for obj in queryset:
            type(self).delete_service(obj, request.user)


@admin.register(ThemeRule)
class ThemeRuleAdmin(_ClassificationAdmin):
    list_display = ("scope", "theme", "framework", "reason")
    list_filter = ("theme__framework", "scope")
    search_fields = ("scope__code", "scope__name", "theme__code", "theme__name", "reason")
    autocomplete_fields = ("scope", "theme")
    fields = ("scope", "theme", "reason", *_ClassificationAdmin.readonly_fields)

    @staticmethod
    def save_service(obj: Any, user: Any) -> None:
        theme_rule_save(rule=obj, user=user)

    @staticmethod
    def delete_service(obj: Any, user: Any) -> None:
        theme_rule_delete(rule=obj, user=user)

    def get_queryset(self, request: HttpRequest) -> QuerySet[ThemeRule]:
        """Join the themes the list shows."""
        return super().get_queryset(request).select_related("scope", "theme__framework")

    @admin.display(description="Framework")
    def framework(self, rule: ThemeRule) -> str:
        """The framework of the theme the rule classifies under."""
        return str(rule.theme.framework)


@admin.register(ThemeException)
class ThemeExceptionAdmin(_ClassificationAdmin):
    list_display = ("commitment", "theme", "include", "reason")
    list_filter = ("theme__framework", "include")
    search_fields = ("commitment__reference", "theme__code", "theme__name", "reason")
    autocomplete_fields = ("commitment", "theme")
    fields = ("commitment", "theme", "include", "reason", *_ClassificationAdmin.readonly_fields)

    @staticmethod
    def save_service(obj: Any, user: Any) -> None:
        theme_exception_save(exception=obj, user=user)

    @staticmethod
    def delete_service(obj: Any, user: Any) -> None:
        theme_exception_delete(exception=obj, user=user)

    def get_queryset(self, request: HttpRequest) -> QuerySet[ThemeException]:
        """Join the commitment and theme the list shows."""
        return super().get_queryset(request).select_related("commitment", "theme__framework")

"""The staff tool: browsing and editing documents, themes, organisations and commitments."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from django.contrib import admin, messages
from django.core.exceptions import ImproperlyConfigured, PermissionDenied, ValidationError
from django.db.models import Count, Model, QuerySet
from django.http import HttpRequest
from import_export.admin import ExportMixin

# Importing the module registers the status update admin and its review workflow.
from commitments import admin_updates  # noqa: F401
from commitments.classification import (
    theme_exception_delete,
    theme_exception_save,
    theme_rule_delete,
    theme_rule_save,
)
from commitments.models import (
    Commitment,
    CommitmentOrganisation,
    Document,
    Framework,
    Organisation,
    OrganisationAlias,
    StatusUpdate,
    Theme,
    ThemeException,
    ThemeRule,
)
from commitments.permissions import may_change_commitment
from commitments.resources import CommitmentExportResource
from commitments.services import (
    PUBLISHER_PERMISSION,
    commitment_create,
    commitment_delete,
    commitment_edit,
    commitment_involvement_delete,
    commitment_involvement_save,
    commitment_set_published,
    commitment_timing_read,
    document_create,
    document_edit,
)
from lsis import admin_accounts  # noqa: F401  # user accounts and roles, without ways to raise one's own rights
from lsis.admin import READ_ONLY_AUDIT_FIELDS, AuditedAdminMixin, ReadOnlyHistoryMixin, VersionedAdminForm
from lsis.api import admin_tokens  # noqa: F401  # API tokens: issue and revoke
from programmes.models import FundingAmount, Programme


class CommitmentAdminForm(VersionedAdminForm):
    """A commitment's form: new words for its timing must read as a timing, and a deadline typed with them agree.

    The rule is the edit service's (``commitment_timing_read``), asked here so its refusal is shown on the
    field rather than after the form was accepted.
    """

    def clean(self) -> dict[str, Any] | None:
        """Check the written timing as the services will read it."""
        cleaned = super().clean()
        changes = {
            name: self.cleaned_data[name]
            for name in ("target_date_text", "target_date", "source_document")
            if name in self.changed_data and name in self.cleaned_data
        }
        try:
            commitment_timing_read(commitment=self.instance, changes=changes)
        except ValidationError as refusal:
            self.add_error(None, refusal)
        return cleaned


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


@admin.register(Theme)
class ThemeAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ("name", "code", "kind", "parent", "framework", "commitment_count")
    list_filter = ("framework", "kind")
    search_fields = ("code", "name", "context")
    autocomplete_fields = ("parent",)
    readonly_fields = READ_ONLY_AUDIT_FIELDS

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


class CommitmentPartInline(admin.TabularInline):
    """Rows that are part of a commitment: changed only by those who may change the commitment itself."""

    def _may_change_commitment(self, request: HttpRequest, commitment: Any) -> bool:
        return commitment is None or may_change_commitment(request.user, commitment)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """Add only to a commitment the user may change."""
        return super().has_add_permission(request, obj) and self._may_change_commitment(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """Change only on a commitment the user may change."""
        return super().has_change_permission(request, obj) and self._may_change_commitment(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """Remove only from a commitment the user may change."""
        return super().has_delete_permission(request, obj) and self._may_change_commitment(request, obj)


class InvolvementInline(CommitmentPartInline):
    model = CommitmentOrganisation
    fields = ("organisation", "role")
    autocomplete_fields = ("organisation",)
    extra = 0
    verbose_name = "organisation involved"
    verbose_name_plural = "organisations involved"


class ProgrammeLinkInline(CommitmentPartInline):
    model = Programme.commitments.through
    autocomplete_fields = ("programme",)
    extra = 0
    verbose_name = "programme"
    verbose_name_plural = "programmes delivering this commitment"


class FundingInline(CommitmentPartInline):
    model = FundingAmount
    fk_name = "commitment"
    fields = (
        "key",
        "amount_text",
        "qualifier",
        "low",
        "high",
        "nature",
        "funder",
        "programme",
        "part_of",
        "period_text",
    )
    autocomplete_fields = ("funder", "programme", "part_of")
    extra = 0
    show_change_link = True


class ChildCommitmentInline(admin.TabularInline):
    model = Commitment
    fk_name = "parent"
    fields = ("reference", "actor", "text", "delivery_status")
    readonly_fields = fields
    extra = 0
    show_change_link = True
    can_delete = False
    verbose_name = "sub-item"
    verbose_name_plural = "sub-items"

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """Sub-items are added as commitments in their own right, with their parent set."""
        return False


class StatusUpdateInline(admin.TabularInline):
    model = StatusUpdate
    fk_name = "commitment"
    fields = ("as_of", "status", "confidence", "progress", "state", "author", "reviewed_by", "approved_at", "narrative")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True
    ordering = ("-as_of", "-approved_at", "-pk")
    verbose_name_plural = "status updates (newest first)"

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """Updates are written on their own page, where they go through review."""
        return False

    def get_queryset(self, request: HttpRequest) -> QuerySet[StatusUpdate]:
        """Load the people shown on each row with the rows."""
        return super().get_queryset(request).select_related("author", "reviewed_by")


@admin.register(Commitment)
class CommitmentAdmin(ExportMixin, AuditedAdminMixin, ReadOnlyHistoryMixin):
    form = CommitmentAdminForm
    resource_classes = [CommitmentExportResource]
    list_display = (
        "reference",
        "short_text",
        "deal",
        "foundation",
        "area",
        "actor",
        "delivery_status",
        "delivery_confidence",
        "progress",
        "target_date",
        "published",
    )
    list_filter = (
        "deal",
        ("foundation", admin.RelatedOnlyFieldListFilter),
        ("area", admin.RelatedOnlyFieldListFilter),
        "actor",
        "section",
        ("organisations", admin.RelatedOnlyFieldListFilter),
        "delivery_status",
        "delivery_confidence",
        # Overdue and stale are delivery rules: the metrics app adds their filters (metrics.admin_filters).
        "published",
    )
    search_fields = ("reference", "text", "lead_in", "organisations__name", "organisations__aliases__name")
    actions = ["publish_selected", "withdraw_selected"]
    autocomplete_fields = ("parent", "continues", "elaborates", "themes")
    readonly_fields = (*READ_ONLY_AUDIT_FIELDS, "delivery_status", "delivery_confidence", "progress")
    list_select_related = ("deal", "foundation", "area")
    list_per_page = 50
    inlines = [InvolvementInline, ProgrammeLinkInline, FundingInline, ChildCommitmentInline, StatusUpdateInline]
    fieldsets = (
        (None, {"fields": ("reference", "deal", "foundation", "area", "actor", "section", "position", "published")}),
        ("As printed", {"fields": ("lead_in", "text", "source_document", "source_quote")}),
        ("Targets", {"fields": ("target_date_text", "target_date", "jobs", "jobs_text")}),
        ("Links", {"fields": ("parent", "continues", "elaborates", "themes")}),
        (
            "Delivery state (derived from approved updates)",
            {"fields": ("delivery_status", "delivery_confidence", "progress")},
        ),
        ("Record", {"classes": ("collapse",), "fields": READ_ONLY_AUDIT_FIELDS}),
    )

    def get_search_results(self, request: HttpRequest, queryset: QuerySet[Any], search_term: str) -> tuple[Any, bool]:
        """Searching across organisations and aliases can match one commitment twice; show it once."""
        results, _ = super().get_search_results(request, queryset, search_term)
        return results.distinct(), False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """Editors change unpublished commitments; published ones only those who may publish."""
        allowed = super().has_change_permission(request, obj)
        return allowed and (obj is None or may_change_commitment(request.user, obj))

    def has_publish_permission(self, request: HttpRequest) -> bool:
        """Whether the user may publish commitments to partners."""
        return request.user.has_perm(PUBLISHER_PERMISSION)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        """Only those who may publish change the published flag."""
        readonly = tuple(super().get_readonly_fields(request, obj))
        return readonly if self.has_publish_permission(request) else (*readonly, "published")

    # Inline rows of the apps above this one (programmes, funding) are saved by their services, which
    # those apps register here (``register_row_service``): this app imports neither.
    row_services: ClassVar[dict[type[Model], tuple[Callable[..., None], Callable[..., None]]]] = {}

    @classmethod
    def register_row_service(
        cls, model: type[Model], *, save: Callable[..., None], delete: Callable[..., None]
    ) -> None:
        """Have inline rows of ``model`` saved by ``save(request, row)`` and deleted by ``delete(request, row)``."""
        cls.row_services[model] = (save, delete)

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        """Through the services, themes included, so the figures follow every change.

        A change of the published flag goes through the publishing service.
        """
        themes = form.cleaned_data.get("themes") if "themes" in form.fields else None
        if not change:
            commitment_create(commitment=obj, user=request.user, themes=themes)
            return
        publish = "published" in form.changed_data
        published = obj.published
        if publish:
            obj.published = not published  # as it was: the service makes the change
        fields = {name for name in form.changed_data if name not in ("themes", "published", "version")}
        commitment_edit(
            commitment=obj, user=request.user, changes={name: form.cleaned_data[name] for name in fields}, themes=themes
        )
        if publish:
            commitment_set_published(commitment=obj, user=request.user, published=published)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        """Save the inline rows; the themes (the form's one many-to-many field) were saved with the commitment."""
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)

    def save_inline_row(self, request: HttpRequest, instance: Any) -> None:
        """Each row through its service: organisations here, programmes and funding through theirs."""
        if isinstance(instance, CommitmentOrganisation):
            commitment_involvement_save(involvement=instance, user=request.user)
        else:
            self._row_service(instance)[0](request, instance)

    def delete_inline_row(self, request: HttpRequest, instance: Any) -> None:
        """Each removal through its row's service."""
        if isinstance(instance, CommitmentOrganisation):
            commitment_involvement_delete(involvement=instance, user=request.user)
        else:
            self._row_service(instance)[1](request, instance)

    def _row_service(self, instance: Any) -> tuple[Callable[..., None], Callable[..., None]]:
        try:
            return self.row_services[type(instance)]
        except KeyError:
            raise ImproperlyConfigured(f"No service saves {type(instance).__name__} rows of a commitment.") from None

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """A published commitment is withdrawn from partners before it can be deleted."""
        allowed = super().has_delete_permission(request, obj)
        return allowed and (obj is None or (not obj.published and may_change_commitment(request.user, obj)))

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        """Through the service."""
        commitment_delete(commitment=obj, user=request.user)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Commitment]) -> None:
        """Each through the service; none if one of them is published."""
        if queryset.filter(published=True).exists():
            raise PermissionDenied("Withdraw published commitments from partners before deleting them.")
        for commitment in queryset:
            commitment_delete(commitment=commitment, user=request.user)

    @admin.action(description="Publish selected commitments to partners", permissions=["publish"])
    def publish_selected(self, request: HttpRequest, queryset: QuerySet[Commitment]) -> None:
        """Make the selected commitments visible through the partner API."""
        self._set_published(request, queryset, published=True)

    @admin.action(description="Withdraw selected commitments from partners", permissions=["publish"])
    def withdraw_selected(self, request: HttpRequest, queryset: QuerySet[Commitment]) -> None:
        """Hide the selected commitments from the partner API."""
        self._set_published(request, queryset, published=False)

    def _set_published(self, request: HttpRequest, queryset: QuerySet[Commitment], *, published: bool) -> None:
        changed = 0
        for commitment in queryset:
            if commitment.published != published:
                commitment_set_published(commitment=commitment, user=request.user, published=published)
                changed += 1
        verb = "published" if published else "withdrawn from partners"
        self.message_user(request, f"{changed} commitment(s) {verb}.", messages.SUCCESS)

    @admin.display(description="Text")
    def short_text(self, commitment: Commitment) -> str:
        """The start of the commitment's text."""
        return commitment.text if len(commitment.text) <= 90 else commitment.text[:89] + "…"


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

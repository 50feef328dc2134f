"""The commitment's admin page: the commitment, and its organisations, programmes, money, sub-items and updates.

The page is composed here, above the commitments app, because it shows and edits a commitment's programmes
and funding, which that app does not know (ADR 0007). Its URLs are the commitment model's
(``/admin/commitments/commitment/...``). Every change goes through a service: the commitment's and its
organisations' through ``commitments.services``, its programmes and money through ``programmes.services``.
The themes of the 2017 strategy and the 2020 Update are shown, not edited: the tracker's classification
sets them (``commitments.classification``), and reviewers change its rules and exceptions on their own pages.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ImproperlyConfigured, PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.safestring import SafeString
from import_export.admin import ExportMixin

from commitments.classification import CLASSIFIED_BY, classification_of, commitment_classify
from commitments.delivery_plan import (
    dependency_delete,
    dependency_save,
    dependency_validated,
    milestone_delete,
    milestone_save,
    milestone_validated,
)
from commitments.models import Commitment, CommitmentOrganisation, Dependency, Milestone, StatusUpdate
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
    published_deadline_check,
)
from lsis.admin import READ_ONLY_AUDIT_FIELDS, AuditedAdminMixin, ReadOnlyHistoryMixin, VersionedAdminForm
from programmes.admin_forms import FundingCommitmentForm, form_for_user
from programmes.admin_owners import CommitmentOwnersAdminMixin
from programmes.models import FundingAmount, Programme
from programmes.services import commitment_programmes_set, funding_amount_delete, funding_amount_save

ProgrammeLink = Programme.commitments.through


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
            timing = commitment_timing_read(commitment=self.instance, changes=changes)
        except ValidationError as refusal:
            self.add_error(None, refusal)
            return cleaned
        if self.instance.pk is not None:
            try:
                # A published commitment's deadline moves by a request (commitments.delivery_plan).
                published_deadline_check(stored=self.instance, changes=timing)
            except ValidationError as refusal:
                # Its field is read-only on a published commitment's form: the refusal is shown above the form.
                self.add_error("target_date" if "target_date" in self.fields else None, refusal.messages)
        return cleaned


class _ServiceCheckedRowForm(forms.ModelForm):
    """An inline row validated by its service's own check, so that a refusal is shown on the row's field."""

    check: Any = None

    def _post_clean(self) -> None:
        super()._post_clean()  # type: ignore[misc]
        if self.errors or not self.has_changed():
            return
        try:
            type(self).check(self.instance)
        except ValidationError as refusal:
            self._update_errors(refusal)  # type: ignore[attr-defined]


class MilestoneRowForm(_ServiceCheckedRowForm):
    check = staticmethod(milestone_validated)


class DependencyRowForm(_ServiceCheckedRowForm):
    check = staticmethod(dependency_validated)


class CommitmentPartMixin(admin.options.InlineModelAdmin):
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


class CommitmentPartInline(CommitmentPartMixin, admin.TabularInline):
    """Parts of a commitment shown as a table, one row each."""


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


class FundingInline(CommitmentPartMixin, admin.StackedInline):
    """A commitment's amounts, each a short block of fields set out in rows.

    Ten fields side by side in one table row made the page 2,800 px wide. The amount's own page (its change
    link) has its joint funders and its history.
    """

    model = FundingAmount
    form = FundingCommitmentForm  # one funder or several jointly, checked on the row's funder field
    fk_name = "commitment"
    fields = (
        ("amount_text", "qualifier", "low", "high"),
        ("nature", "funder", "programme"),
        ("part_of", "period_text", "key"),
    )
    autocomplete_fields = ("funder", "programme", "part_of")
    extra = 0
    show_change_link = True
    verbose_name = "amount of money"
    verbose_name_plural = "money (each amount as written, its nature, funder and programme)"

    def get_formset(self, request: HttpRequest, obj: Any = None, **kwargs: Any) -> Any:
        """Rows whose commitment is checked against the user who saves them."""
        formset = super().get_formset(request, obj, **kwargs)
        formset.form = form_for_user(formset.form, request)
        return formset


class MilestoneInline(CommitmentPartInline):
    """The commitment's milestones, saved through their services (the figures count overdue ones)."""

    model = Milestone
    form = MilestoneRowForm
    fields = ("title", "due_on", "done_on", "owner")
    extra = 0
    verbose_name_plural = "milestones"


class DependencyInline(CommitmentPartInline):
    """The commitments this one depends on; a loop of dependencies is refused, named."""

    model = Dependency
    form = DependencyRowForm
    fk_name = "commitment"
    fields = ("depends_on", "note")
    autocomplete_fields = ("depends_on",)
    extra = 0
    verbose_name = "dependency"
    verbose_name_plural = "depends on (commitments whose delivery this one waits on)"


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
class CommitmentAdmin(CommitmentOwnersAdminMixin, ExportMixin, AuditedAdminMixin, ReadOnlyHistoryMixin):
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
        "owner",
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
        ("owner", admin.RelatedOnlyFieldListFilter),
    )
    search_fields = ("reference", "text", "lead_in", "organisations__name", "organisations__aliases__name")
    actions = ["publish_selected", "withdraw_selected"]
    autocomplete_fields = ("parent", "continues", "elaborates")
    readonly_fields = (
        *READ_ONLY_AUDIT_FIELDS,
        "delivery_status",
        "delivery_confidence",
        "progress",
        "classified_themes",
    )
    list_select_related = ("deal", "foundation", "area")
    list_per_page = 50
    inlines = [
        InvolvementInline,
        ProgrammeLinkInline,
        FundingInline,
        MilestoneInline,
        DependencyInline,
        ChildCommitmentInline,
        StatusUpdateInline,
    ]
    fieldsets = (
        (None, {"fields": ("reference", "deal", "foundation", "area", "actor", "section", "position", "published")}),
        ("As printed", {"fields": ("lead_in", "text", "source_document", "source_quote")}),
        ("Targets", {"fields": ("target_date_text", "target_date", "jobs", "jobs_text")}),
        ("Links", {"fields": ("parent", "continues", "elaborates", "classified_themes")}),
        (
            "Delivery state (derived from approved updates)",
            {"fields": ("delivery_status", "delivery_confidence", "progress")},
        ),
        ("Owners (who keeps it up to date)", {"fields": ("owner", "contributors")}),
        ("Record", {"classes": ("collapse",), "fields": READ_ONLY_AUDIT_FIELDS}),
    )

    # Pickers of a commitment (a status update's, a sub-item's parent, an amount's...) show its reference and the
    # start of its text, and find it by either (``search_fields``; lsis.admin.LabelledAutocompleteJsonView):
    # SD1-IDEAS-HARP-G1 and SD2-IDEAS-HARP-G1 are easily taken for each other. The first deal's come first.
    autocomplete_ordering = ("deal__published_on", "deal__code", "reference")

    def autocomplete_label(self, commitment: Commitment) -> str:
        """The reference and the start of the text, as a picker shows a commitment."""
        text = " ".join(commitment.text.split())
        return f"{commitment.reference}: {text if len(text) <= 80 else text[:79].rstrip() + '…'}"

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
        """Only those who may publish change the published flag; nobody a published commitment's deadline."""
        readonly = tuple(super().get_readonly_fields(request, obj))
        if obj is not None and obj.published:
            # The baseline: a published commitment's deadline moves by a request (Requests to change a deadline).
            readonly = (*readonly, "target_date")
        return readonly if self.has_publish_permission(request) else (*readonly, "published")

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        """Through the services, so the figures follow every change.

        A change of the published flag goes through the publishing service. A new commitment, or one given
        another foundation, area, parent or elaborated commitment, takes the themes its classification gives.
        """
        if not change:
            commitment_create(commitment=obj, user=request.user)
        else:
            publish = "published" in form.changed_data
            published = obj.published
            if publish:
                obj.published = not published  # as it was: the service makes the change
            fields = {name for name in form.changed_data if name not in ("published", "version")}
            commitment_edit(
                commitment=obj, user=request.user, changes={name: form.cleaned_data[name] for name in fields}
            )
            if publish:
                commitment_set_published(commitment=obj, user=request.user, published=published)
        if not change or set(CLASSIFIED_BY) & set(form.changed_data):
            commitment_classify(commitment=obj, user=request.user)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        """Save the inline rows, each through its service (the form itself has no many-to-many field)."""
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)

    def save_inline_row(self, request: HttpRequest, instance: Any) -> None:
        """Each row through its service: organisations, programmes and funding."""
        if isinstance(instance, CommitmentOrganisation):
            commitment_involvement_save(involvement=instance, user=request.user)
        elif isinstance(instance, FundingAmount):
            funding_amount_save(amount=instance, user=request.user)
        elif isinstance(instance, ProgrammeLink):
            _programme_link_save(request, instance, removed=False)
        elif isinstance(instance, Milestone):
            milestone_save(milestone=instance, user=request.user)
        elif isinstance(instance, Dependency):
            dependency_save(dependency=instance, user=request.user)
        else:
            raise ImproperlyConfigured(f"No service saves {type(instance).__name__} rows of a commitment.")

    def delete_inline_row(self, request: HttpRequest, instance: Any) -> None:
        """Each removal through its row's service."""
        if isinstance(instance, CommitmentOrganisation):
            commitment_involvement_delete(involvement=instance, user=request.user)
        elif isinstance(instance, FundingAmount):
            funding_amount_delete(amount=instance, user=request.user)
        elif isinstance(instance, ProgrammeLink):
            _programme_link_save(request, instance, removed=True)
        elif isinstance(instance, Milestone):
            milestone_delete(milestone=instance, user=request.user)
        elif isinstance(instance, Dependency):
            dependency_delete(dependency=instance, user=request.user)
        else:
            raise ImproperlyConfigured(f"No service removes {type(instance).__name__} rows of a commitment.")

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

    @admin.display(description="Themes (2017 strategy, 2020 Update)")
    def classified_themes(self, commitment: Commitment) -> SafeString:
        """The themes the commitment is under, each with why; where they are changed (they are not edited here)."""
        themes: list[tuple[Any, str]] = []
        if commitment.pk is not None:
            reasons = {item.theme.pk: item.reason for item in classification_of(commitment)}
            held = commitment.themes.select_related("framework").order_by("framework__code", "position")
            themes = [(theme, reasons.get(theme.pk, "")) for theme in held]
        exceptions_url = reverse("admin:commitments_themeexception_changelist")
        if commitment.pk is not None:  # the list, searched for this commitment's exceptions
            exceptions_url += "?" + urlencode({"q": commitment.reference})
        return render_to_string(
            "admin/commitments/commitment/classified_themes.html",
            {
                "themes": themes,
                "saved": commitment.pk is not None,
                "rules_url": reverse("admin:commitments_themerule_changelist"),
                "exceptions_url": exceptions_url,
            },
        )


def _programmes_after(link: Any, *, removed: bool) -> set[int]:
    """The programmes of a link's commitment once the link (an inline row of the page) is saved or removed."""
    programmes = set(Programme.objects.filter(commitments=link.commitment_id).values_list("pk", flat=True))
    if link.pk is not None:  # the programme the row named until now
        programmes -= set(ProgrammeLink.objects.filter(pk=link.pk).values_list("programme_id", flat=True))
    return programmes if removed else programmes | {link.programme_id}


def _programme_link_save(request: HttpRequest, link: Any, *, removed: bool) -> None:
    """A programme row saved or removed: the commitment's programmes are set through their service."""
    commitment = Commitment.objects.get(pk=link.commitment_id)
    programmes = Programme.objects.filter(pk__in=_programmes_after(link, removed=removed))
    commitment_programmes_set(commitment=commitment, user=request.user, programmes=programmes)

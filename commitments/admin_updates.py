"""The staff tool for status updates: writing drafts, and the review workflow as buttons and actions.

Every transition calls ``commitments.services``; this module only asks for confirmation (and, to
return an update, the reviewer's reason) and reports the outcome.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.utils import unquote
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied, ValidationError
from django.db import models, transaction
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from import_export.admin import ImportExportMixin
from import_export.forms import ImportForm

from commitments.imports import import_limits
from commitments.models import EvidenceLink, StatusUpdate, UpdateState
from commitments.resources import IMPORT_FORMATS, StatusUpdateResource, listed_problem_rows
from commitments.services import (
    EDITOR_PERMISSION,
    REVIEWER_PERMISSION,
    update_approve,
    update_delete,
    update_may_review,
    update_narrative_refusal,
    update_return,
    update_save_draft,
    update_submit,
    updates_awaiting_review,
)
from lsis.admin import READ_ONLY_AUDIT_FIELDS, AuditedAdminMixin, ReadOnlyHistoryMixin, VersionedAdminForm
from lsis.models import ConcurrentEditError
from lsis.spreadsheets import SpreadsheetRefusedError, check_upload_size


@dataclass(frozen=True)
class Transition:
    """A step of the review workflow as staff see it."""

    name: str
    label: str
    done: str
    needs_reason: bool
    # The permission the service checks: without it the step's page and action answer 403.
    permission: str
    allowed: Callable[[StatusUpdate, Any], bool]
    perform: Callable[[StatusUpdate, Any, str], StatusUpdate]


def _can_submit(update: StatusUpdate, user: Any) -> bool:
    return user.has_perm(EDITOR_PERMISSION) and update.state in (UpdateState.DRAFT, UpdateState.RETURNED)


def _can_review(update: StatusUpdate, user: Any) -> bool:
    return update_may_review(update=update, user=user)


TRANSITIONS: dict[str, Transition] = {
    transition.name: transition
    for transition in (
        Transition(
            "submit",
            "Submit for review",
            "submitted for review",
            False,
            EDITOR_PERMISSION,
            _can_submit,
            lambda update, user, reason: update_submit(update=update, user=user),
        ),
        Transition(
            "approve",
            "Approve",
            "approved",
            False,
            REVIEWER_PERMISSION,
            _can_review,
            lambda update, user, reason: update_approve(update=update, reviewer=user),
        ),
        Transition(
            "return",
            "Return to author",
            "returned to its author",
            True,
            REVIEWER_PERMISSION,
            _can_review,
            lambda update, user, reason: update_return(update=update, reviewer=user, reason=reason),
        ),
    )
}


# Set by the workflow services, shown on the update, never typed in.
REVIEW_FIELDS = ("state", "author", "submitted_at", "reviewed_by", "reviewed_at", "return_reason", "approved_at")


class TransitionForm(forms.Form):
    """Confirmation of a workflow step; returning an update needs a reason."""

    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4, "cols": 60}),
        required=False,
        help_text="Tell the author what to put right.",
    )

    def __init__(self, *args: Any, needs_reason: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.needs_reason = needs_reason
        if not needs_reason:
            del self.fields["reason"]

    def clean_reason(self) -> str:
        """A returned update must say why."""
        reason = str(self.cleaned_data.get("reason", "")).strip()
        if self.needs_reason and not reason:
            raise ValidationError("Say why the update is being returned, so its author can put it right.")
        return reason


#: The code of a form error that says the file breaks a limit (as opposed to a file that cannot be read).
OVER_A_LIMIT = "over_a_limit"


class UpdateImportForm(ImportForm):
    """The import form; a file larger than the upload limit is refused here, before it is read."""

    def clean_import_file(self) -> Any:
        """The uploaded file, if it is within the upload limit."""
        upload = self.cleaned_data["import_file"]
        try:
            check_upload_size(upload.size, import_limits())
        except SpreadsheetRefusedError as refusal:
            raise ValidationError(str(refusal), code=OVER_A_LIMIT) from None
        return upload


class StatusUpdateAdminForm(VersionedAdminForm):
    """An update's form: a change of confidence must say why, shown on the narrative (``update_narrative_refusal``)."""

    def _post_clean(self) -> None:
        super()._post_clean()
        if "narrative" in self.errors or "confidence" in self.errors:
            return
        refusal = update_narrative_refusal(update=self.instance)
        if refusal:
            self.add_error("narrative", refusal)


class WorkQueueFilter(admin.SimpleListFilter):
    title = "your work"
    parameter_name = "queue"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        choices = [("mine", "My drafts and returned updates")]
        if request.user.has_perm(REVIEWER_PERMISSION):
            choices.append(("review", "Awaiting my review"))
        return choices

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "mine":
            return queryset.filter(author=request.user, state__in=[UpdateState.DRAFT, UpdateState.RETURNED])
        if self.value() == "review":
            return updates_awaiting_review(user=request.user, updates=queryset)
        return queryset


class EvidenceLinkInline(admin.TabularInline):
    model = EvidenceLink
    fields = ("title", "url")
    extra = 1
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    def _editable(self, obj: Any) -> bool:
        return obj is None or obj.is_editable

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._editable(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._editable(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._editable(obj) and super().has_delete_permission(request, obj)


@admin.register(StatusUpdate)
class StatusUpdateAdmin(ImportExportMixin, AuditedAdminMixin, ReadOnlyHistoryMixin):
    resource_classes = [StatusUpdateResource]
    list_display = (
        "commitment",
        "as_of",
        "status",
        "confidence",
        "progress",
        "state",
        "author",
        "reviewed_by",
        "source_document",
    )
    list_filter = (WorkQueueFilter, "state", "status", "confidence", "source_document")
    search_fields = ("commitment__reference", "narrative")
    autocomplete_fields = ("commitment", "supersedes")
    list_select_related = ("commitment", "source_document", "author", "reviewed_by")
    date_hierarchy = "as_of"
    inlines = [EvidenceLinkInline]
    actions = ["submit_selected", "approve_selected", "return_selected"]
    change_form_template = "admin/commitments/statusupdate/change_form.html"
    form = StatusUpdateAdminForm
    fieldsets = (
        (None, {"fields": ("commitment", "as_of", "status", "confidence", "progress", "narrative", "funding_spent")}),
        ("Correction", {"fields": ("supersedes",), "description": "If this corrects an approved update, name it."}),
        (
            "Review",
            {"fields": (*REVIEW_FIELDS, "proposed_by")},
        ),
        ("Evidence from a document", {"classes": ("collapse",), "fields": ("source_document", "source_quote")}),
        ("Record", {"classes": ("collapse",), "fields": READ_ONLY_AUDIT_FIELDS}),
    )
    readonly_fields = (
        *READ_ONLY_AUDIT_FIELDS,
        *REVIEW_FIELDS,
        "proposed_by",
        "source_document",
        "source_quote",
    )

    @admin.display(description="Proposed by")
    def proposed_by(self, obj: StatusUpdate) -> str:
        """The partner organisation and person whose proposal this draft began as (``commitments.proposals``)."""
        try:
            proposal = obj.proposal
        except ObjectDoesNotExist:
            return "-"
        author = proposal.author.get_full_name() or proposal.author.get_username()
        url = reverse("admin:commitments_proposal_change", args=[proposal.pk])
        return format_html('{} ({}): <a href="{}">the proposal</a>', proposal.organisation.name, author, url)

    # --- spreadsheets -----------------------------------------------------------------------------------

    # Excel reads a CSV with a byte-order mark as UTF-8, so pound signs and curly quotes survive.
    to_encoding = "utf-8-sig"
    import_form_class = UpdateImportForm

    def get_import_formats(self) -> list[Any]:
        """CSV and Excel, each read within the limits (``commitments.resources.IMPORT_FORMATS``)."""
        return list(IMPORT_FORMATS)

    def add_data_read_fail_error_to_form(self, form: Any, e: Exception) -> None:
        """Say in plain words which limit the file breaks, or that it could not be read."""
        if isinstance(e, SpreadsheetRefusedError):
            form.add_error("import_file", ValidationError(str(e), code=OVER_A_LIMIT))
            return
        form.add_error(
            "import_file",
            "This file could not be read as the format chosen. Save it as CSV (UTF-8) or Excel (.xlsx), "
            "choose that format, and upload it again.",
        )

    def import_action(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        """The import page, saying whether the file broke a limit, and listing the first rows' problems only."""
        response = super().import_action(request, **kwargs)
        context = getattr(response, "context_data", None)
        if isinstance(context, dict):
            form = context.get("form")
            file_errors = form.errors.as_data().get("import_file", []) if form is not None else []
            context["file_over_a_limit"] = any(error.code == OVER_A_LIMIT for error in file_errors)
            if context.get("result") is not None:
                context["listed_invalid_rows"], context["more_invalid_rows"] = listed_problem_rows(context["result"])
        return response

    def process_import(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        """Confirming an import twice (a double click, or the back button) must not fail with an error.

        Nor must a file that breaks a limit on confirming (the limits were lowered since its preview).
        """
        try:
            return super().process_import(request, **kwargs)
        except SpreadsheetRefusedError as refusal:
            self.message_user(request, f"Nothing was imported. {refusal}", messages.ERROR)
            return HttpResponseRedirect(reverse("admin:commitments_statusupdate_import"))
        except FileNotFoundError:
            self.message_user(
                request,
                "That import has already been confirmed, or its preview has expired: nothing more was imported. "
                "Check the list below, and upload the file again if it is not there.",
                messages.WARNING,
            )
            return HttpResponseRedirect(reverse("admin:commitments_statusupdate_changelist"))

    # --- permissions: submitted and approved updates are never edited or deleted -----------------------

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """Only drafts and returned updates can be edited."""
        return super().has_change_permission(request, obj) and (obj is None or obj.is_editable)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """Only drafts and returned updates can be deleted."""
        return super().has_delete_permission(request, obj) and (obj is None or obj.is_editable)

    def get_queryset(self, request: HttpRequest) -> QuerySet[StatusUpdate]:
        """Join what the list shows."""
        return super().get_queryset(request).select_related("commitment", "author", "reviewed_by")

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        """A correction can only supersede an approved update."""
        if db_field.name == "supersedes":
            kwargs["queryset"] = StatusUpdate.objects.approved()
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    # --- saving goes through the workflow services ------------------------------------------------------

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        """Save the draft through the workflow service."""
        update_save_draft(update=obj, user=request.user)

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        """Delete a draft through the workflow service."""
        update_delete(update=obj, user=request.user)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        """Delete each selected draft through the workflow service."""
        for update in queryset:
            update_delete(update=update, user=request.user)

    # --- buttons on the update's page -------------------------------------------------------------------

    def get_urls(self) -> list[Any]:
        """Add a confirmation page per workflow step."""
        info = self.opts.app_label, self.opts.model_name
        return [
            path(
                "<path:object_id>/<str:transition>/confirm/",
                self.admin_site.admin_view(self.transition_view),
                name="{}_{}_transition".format(*info),
            ),
            *super().get_urls(),
        ]

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        """Offer the workflow steps the user may take on this update."""
        update = self.get_object(request, unquote(object_id))
        available = [t for t in TRANSITIONS.values() if update is not None and t.allowed(update, request.user)]
        context = {**(extra_context or {}), "workflow_transitions": available}
        return super().change_view(request, object_id, form_url, context)

    def transition_view(self, request: HttpRequest, object_id: str, transition: str) -> HttpResponse:
        """Ask for confirmation of one workflow step on one update, then take it."""
        step = TRANSITIONS.get(transition)
        update = self.get_object(request, unquote(object_id))
        if step is None or update is None:
            raise Http404("No such update or workflow step.")
        if not (self.has_view_permission(request, update) and request.user.has_perm(step.permission)):
            raise PermissionDenied
        change_url = reverse("admin:commitments_statusupdate_change", args=[update.pk])
        form = TransitionForm(request.POST if request.method == "POST" else None, needs_reason=step.needs_reason)
        if request.method == "POST" and form.is_valid():
            self._perform(request, step, [update], form.cleaned_data.get("reason", ""))
            return HttpResponseRedirect(change_url)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": f"{step.label}: {update}",
            "step": step,
            "updates": [update],
            "form": form,
            "allowed": step.allowed(update, request.user),
            "cancel_url": change_url,
        }
        return TemplateResponse(request, "admin/commitments/statusupdate/confirm_transition.html", context)

    # --- the same steps as actions on the list ----------------------------------------------------------

    def has_submit_permission(self, request: HttpRequest) -> bool:
        """Whether the user may submit updates for review (the list action is offered only then)."""
        return request.user.has_perm(TRANSITIONS["submit"].permission)

    def has_review_permission(self, request: HttpRequest) -> bool:
        """Whether the user may approve or return updates (the list actions are offered only then)."""
        return request.user.has_perm(TRANSITIONS["approve"].permission)

    @admin.action(description="Submit selected updates for review", permissions=["submit"])
    def submit_selected(self, request: HttpRequest, queryset: QuerySet[Any]) -> HttpResponse | None:
        """Submit the selected drafts, after confirmation."""
        return self._confirm_action(request, queryset, TRANSITIONS["submit"], "submit_selected")

    @admin.action(description="Approve selected updates", permissions=["review"])
    def approve_selected(self, request: HttpRequest, queryset: QuerySet[Any]) -> HttpResponse | None:
        """Approve the selected updates, after confirmation."""
        return self._confirm_action(request, queryset, TRANSITIONS["approve"], "approve_selected")

    @admin.action(description="Return selected updates to their authors", permissions=["review"])
    def return_selected(self, request: HttpRequest, queryset: QuerySet[Any]) -> HttpResponse | None:
        """Return the selected updates with a reason, after confirmation."""
        return self._confirm_action(request, queryset, TRANSITIONS["return"], "return_selected")

    def _confirm_action(
        self, request: HttpRequest, queryset: QuerySet[Any], step: Transition, action: str
    ) -> HttpResponse | None:
        updates = list(queryset.select_related("commitment", "author"))
        form = TransitionForm(request.POST if "confirm" in request.POST else None, needs_reason=step.needs_reason)
        if "confirm" in request.POST and form.is_valid():
            self._perform(request, step, updates, form.cleaned_data.get("reason", ""))
            return None
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": f"{step.label}: {len(updates)} update(s)",
            "step": step,
            "updates": updates,
            "form": form,
            "allowed": True,
            "action": action,
            "selected": [update.pk for update in updates],
            "action_checkbox_name": ACTION_CHECKBOX_NAME,
            "cancel_url": reverse("admin:commitments_statusupdate_changelist"),
        }
        return TemplateResponse(request, "admin/commitments/statusupdate/confirm_transition.html", context)

    def _perform(self, request: HttpRequest, step: Transition, updates: list[StatusUpdate], reason: str) -> None:
        done = 0
        for update in updates:
            try:
                with transaction.atomic():
                    step.perform(update, request.user, reason)
                done += 1
            except (ValidationError, PermissionDenied, ConcurrentEditError) as refusal:
                text = "; ".join(refusal.messages) if isinstance(refusal, ValidationError) else str(refusal)
                self.message_user(request, f"{update}: not {step.done}. {text}", messages.ERROR)
        if done:
            self.message_user(request, f"{done} update(s) {step.done}.", messages.SUCCESS)

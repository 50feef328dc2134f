"""The staff tool for changes of a deadline: editors ask for one, another reviewer approves or rejects it.

Every write calls ``commitments.delivery_plan``; this module asks for the request's values (and, to reject
one, the reason), asks for confirmation, and reports the outcome. A request is never edited: once
decided it is a record, and while it waits it is decided or rejected, not changed (ask again instead).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from commitments.delivery_plan import (
    DECIDE_PERMISSION,
    baseline_change_approve,
    baseline_change_may_decide,
    baseline_change_reject,
    baseline_change_request,
    baseline_change_request_refusals,
)
from commitments.models import BaselineChange, BaselineChangeState, Commitment
from commitments.services import WorkflowError
from lsis.admin import GuardedAdminMixin, ReadOnlyHistoryMixin
from lsis.models import ConcurrentEditError


class BaselineChangeRequestForm(forms.ModelForm):
    """A request to move a published commitment's deadline: the refusals are the service's, shown on their fields."""

    class Meta:
        model = BaselineChange
        fields = ["commitment", "proposed_date", "reason"]
        # The service's words, for a field left empty too.
        error_messages = {
            "commitment": {"required": "Choose the commitment whose deadline should move"},
            "proposed_date": {"required": "Enter the new deadline"},
            "reason": {"required": "Say why the deadline should move"},
        }

    def clean(self) -> dict[str, Any] | None:
        """Ask the service's rule (``baseline_change_request_refusals``) before anything is saved."""
        cleaned = super().clean()
        commitment = self.cleaned_data.get("commitment")
        if isinstance(commitment, Commitment):
            refusals = baseline_change_request_refusals(
                commitment=commitment,
                proposed_date=self.cleaned_data.get("proposed_date"),
                reason=self.cleaned_data.get("reason", ""),
            )
            for field, message in refusals.items():
                if field not in self.errors:
                    self.add_error(field, message)
        return cleaned


class DecisionForm(forms.Form):
    """Confirmation of a decision; a rejection says why."""

    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4, "cols": 60}),
        required=False,
        label="Note",
        help_text="Why the change is rejected (or any note on the decision).",
    )

    def __init__(self, *args: Any, needs_reason: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.needs_reason = needs_reason

    def clean_reason(self) -> str:
        """A rejection must say why."""
        reason = str(self.cleaned_data.get("reason", "")).strip()
        if self.needs_reason and not reason:
            raise ValidationError("Say why the change of deadline is rejected")
        return reason


@admin.register(BaselineChange)
class BaselineChangeAdmin(GuardedAdminMixin, ReadOnlyHistoryMixin):
    list_display = ("commitment", "previous_date", "proposed_date", "state", "requested_by", "decided_by")
    list_filter = ("state",)
    search_fields = ("commitment__reference", "reason")
    autocomplete_fields = ("commitment",)
    list_select_related = ("commitment", "requested_by", "decided_by")
    change_form_template = "admin/commitments/baselinechange/change_form.html"
    change_list_template = "admin/commitments/baselinechange/change_list.html"
    form = BaselineChangeRequestForm
    decided_fields = (
        "commitment",
        "previous_date",
        "proposed_date",
        "reason",
        "state",
        "requested_by",
        "created_at",
        "decided_by",
        "decided_at",
        "decision_note",
    )

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        """A new request asks for the commitment, the date and why; a request made shows everything."""
        return ("commitment", "proposed_date", "reason") if obj is None else self.decided_fields

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        """A request is never edited once made."""
        return () if obj is None else self.decided_fields

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """Nobody edits a request: it is approved or rejected (its buttons), or asked again."""
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """Requests are the record of how a deadline moved: never deleted."""
        return False

    def has_decide_permission(self, request: HttpRequest) -> bool:
        """Whether the user may approve or reject changes of deadline."""
        return bool(request.user.has_perm(DECIDE_PERMISSION))

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        """Only published commitments' deadlines move by a request."""
        if db_field.name == "commitment":
            kwargs["queryset"] = Commitment.objects.published()
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        """Through the service, which records the deadline the request moves from."""
        saved = baseline_change_request(
            commitment=obj.commitment, proposed_date=obj.proposed_date, reason=obj.reason, user=request.user
        )
        obj.pk = saved.pk

    # --- the decision: a button each, with a confirmation page ----------------------------------------------

    def get_urls(self) -> list[Any]:
        """Add a confirmation page per decision."""
        info = self.opts.app_label, self.opts.model_name
        return [
            path(
                "<path:object_id>/approve/",
                self.admin_site.admin_view(self.approve_view),
                name="{}_{}_approve".format(*info),
            ),
            path(
                "<path:object_id>/reject/",
                self.admin_site.admin_view(self.reject_view),
                name="{}_{}_reject".format(*info),
            ),
            *super().get_urls(),
        ]

    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        """The request's form, named for what it does."""
        return super().add_view(request, form_url, {**(extra_context or {}), "title": "Request a change of deadline"})

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        """Offer the decisions the user may take on this request (four eyes: not on their own)."""
        change = self.get_object(request, unquote(object_id))
        may_decide = change is not None and baseline_change_may_decide(change=change, user=request.user)
        context = {**(extra_context or {}), "may_decide": may_decide}
        return super().change_view(request, object_id, form_url, context)

    def approve_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Confirm, then approve: the commitment's forecast becomes the proposed date."""
        return self._decision_view(request, object_id, approve=True)

    def reject_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Confirm with a reason, then reject."""
        return self._decision_view(request, object_id, approve=False)

    def _decision_view(self, request: HttpRequest, object_id: str, *, approve: bool) -> HttpResponse:
        change = self.get_object(request, unquote(object_id))
        if change is None:
            raise Http404("No such request.")
        if not self.has_decide_permission(request):
            raise PermissionDenied
        if change.state != BaselineChangeState.PENDING:
            raise PermissionDenied(f"This request was {change.get_state_display().lower()} already.")
        if not baseline_change_may_decide(change=change, user=request.user):
            raise PermissionDenied("You asked for this change of deadline, so someone else must decide it.")
        change_url = reverse("admin:commitments_baselinechange_change", args=[change.pk])
        form = DecisionForm(request.POST if request.method == "POST" else None, needs_reason=not approve)
        if request.method == "POST" and form.is_valid():
            note = form.cleaned_data.get("reason", "")
            try:
                if approve:
                    baseline_change_approve(change=change, reviewer=request.user, note=note)
                else:
                    baseline_change_reject(change=change, reviewer=request.user, note=note)
            except (WorkflowError, ConcurrentEditError) as refusal:
                self.message_user(request, f"Not decided. {refusal}", messages.ERROR)
            else:
                done = "approved: the forecast is now the proposed date" if approve else "rejected"
                self.message_user(request, f"The change of deadline was {done}.", messages.SUCCESS)
            return HttpResponseRedirect(change_url)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": f"{'Approve' if approve else 'Reject'}: {change}",
            "change": change,
            "approve": approve,
            "form": form,
            "cancel_url": change_url,
        }
        return TemplateResponse(request, "admin/commitments/baselinechange/confirm_decision.html", context)

"""The staff tool for partners' proposed updates, and for which organisation each partner user belongs to.

Proposals come from partners through the API and are never edited here: staff read them, and reviewers
accept one (it becomes a draft update written by them, reviewed by another) or decline it with a reason
the partner reads. Memberships are kept by reviewers. Every write calls ``commitments.proposals``; this
module asks for confirmation (and, to decline, the reason) and reports the outcome.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from commitments import roles
from commitments.models import PartnerMembership, Proposal
from commitments.proposals import (
    DECIDE_PERMISSION,
    DECLINE_REASON_MAX,
    decline_reason_refusal,
    partner_membership_delete,
    partner_membership_refusals,
    partner_membership_save,
    proposal_accept,
    proposal_decline,
    proposal_may_decide,
)
from lsis.admin import READ_ONLY_AUDIT_FIELDS, AuditedAdminMixin, GuardedAdminMixin, ReadOnlyHistoryMixin
from lsis.models import ConcurrentEditError


class DeclineForm(forms.Form):
    """Why a proposal is declined: the partner reads it (``decline_reason_refusal``, the service's rule)."""

    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 5, "cols": 60}),
        required=False,  # an empty reason gets the service's words below, not Django's
        max_length=DECLINE_REASON_MAX,
        label="Reason for declining",
        help_text="The partner reads this: say what is missing or wrong, so that they can propose again.",
    )

    def clean_reason(self) -> str:
        """The service's refusal, shown on the field."""
        reason = str(self.cleaned_data.get("reason", ""))
        refusal = decline_reason_refusal(reason=reason)
        if refusal:
            raise ValidationError(refusal)
        return reason


_DETAIL_FIELDS = (
    "commitment",
    "organisation",
    "author",
    "as_of",
    "status",
    "confidence",
    "progress",
    "narrative",
    "funding_spent",
    "evidence",
    "state",
    "decline_reason",
    "decided_by",
    "decided_at",
    "draft_link",
)


@admin.register(Proposal)
class ProposalAdmin(GuardedAdminMixin, ReadOnlyHistoryMixin):
    list_display = ("commitment", "organisation", "as_of", "status", "state", "author", "created_at", "decided_by")
    list_filter = ("state", ("organisation", admin.RelatedOnlyFieldListFilter))
    search_fields = ("commitment__reference", "organisation__name", "narrative")
    list_select_related = ("commitment", "organisation", "author", "decided_by")
    date_hierarchy = "created_at"
    change_form_template = "admin/commitments/proposal/change_form.html"
    fieldsets = (
        (None, {"fields": _DETAIL_FIELDS}),
        ("Record", {"classes": ("collapse",), "fields": READ_ONLY_AUDIT_FIELDS}),
    )
    readonly_fields = (*_DETAIL_FIELDS, *READ_ONLY_AUDIT_FIELDS)

    def has_add_permission(self, request: HttpRequest) -> bool:
        """Partners propose through the API; staff write updates instead."""
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """A proposal is never edited: it is accepted or declined (its buttons)."""
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """Proposals are the record of what partners said: never deleted."""
        return False

    def get_queryset(self, request: HttpRequest) -> QuerySet[Proposal]:
        """Join what the list and the page show."""
        return super().get_queryset(request).with_details()  # type: ignore[attr-defined]

    @admin.display(description="Evidence links")
    def evidence(self, obj: Proposal) -> str:
        """The links the partner gave, each opening its page."""
        if not obj.evidence_links:
            return "-"
        return format_html_join(
            format_html("<br>"),
            '<a href="{}" rel="noopener noreferrer">{}</a>',
            ((link["url"], link["title"]) for link in obj.evidence_links),
        )

    @admin.display(description="Draft update")
    def draft_link(self, obj: Proposal) -> str:
        """The draft an accepted proposal became."""
        if obj.draft is None:
            return "-"
        url = reverse("admin:commitments_statusupdate_change", args=[obj.draft.pk])
        return format_html('<a href="{}">{} ({})</a>', url, obj.draft, obj.draft.get_state_display())

    # --- the decision: a button each, with a confirmation page ----------------------------------------------

    def get_urls(self) -> list[Any]:
        """Add a confirmation page per decision."""
        info = self.opts.app_label, self.opts.model_name
        return [
            path(
                "<path:object_id>/accept/",
                self.admin_site.admin_view(self.accept_view),
                name="{}_{}_accept".format(*info),
            ),
            path(
                "<path:object_id>/decline/",
                self.admin_site.admin_view(self.decline_view),
                name="{}_{}_decline".format(*info),
            ),
            *super().get_urls(),
        ]

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        """Offer Accept and Decline to a reviewer while the proposal waits."""
        proposal = self.get_object(request, unquote(object_id))
        may_decide = proposal is not None and proposal_may_decide(proposal=proposal, user=request.user)
        context = {**(extra_context or {}), "may_decide": may_decide}
        return super().change_view(request, object_id, form_url, context)

    def accept_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Confirm, then accept: the proposal becomes a draft update written by the reviewer."""
        return self._decision_view(request, object_id, accept=True)

    def decline_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Confirm with a reason, then decline."""
        return self._decision_view(request, object_id, accept=False)

    def _decision_view(self, request: HttpRequest, object_id: str, *, accept: bool) -> HttpResponse:
        proposal = self.get_object(request, unquote(object_id))
        if proposal is None:
            raise Http404("No such proposal.")
        if not request.user.has_perm(DECIDE_PERMISSION):
            raise PermissionDenied
        if not proposal_may_decide(proposal=proposal, user=request.user):
            raise PermissionDenied(f"This proposal was {proposal.get_state_display().lower()} already.")
        change_url = reverse("admin:commitments_proposal_change", args=[proposal.pk])
        form = DeclineForm(request.POST) if request.method == "POST" and not accept else DeclineForm()
        if request.method == "POST" and (accept or form.is_valid()):
            try:
                if accept:
                    proposal = proposal_accept(proposal=proposal, reviewer=request.user)
                else:
                    proposal_decline(proposal=proposal, reviewer=request.user, reason=form.cleaned_data["reason"])
            except (ValidationError, ConcurrentEditError) as refusal:
                text = "; ".join(refusal.messages) if isinstance(refusal, ValidationError) else str(refusal)
                self.message_user(request, f"Not decided. {text}", messages.ERROR)
                return HttpResponseRedirect(change_url)
            if accept and proposal.draft is not None:
                self.message_user(
                    request,
                    "The proposal was accepted: it is now a draft update written by you. Check it, submit it for "
                    "review, and another reviewer approves it.",
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(reverse("admin:commitments_statusupdate_change", args=[proposal.draft.pk]))
            self.message_user(request, "The proposal was declined; the partner can read your reason.", messages.SUCCESS)
            return HttpResponseRedirect(change_url)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": f"{'Accept' if accept else 'Decline'}: {proposal}",
            "proposal": proposal,
            "accept": accept,
            "form": form,
            "cancel_url": change_url,
        }
        return TemplateResponse(request, "admin/commitments/proposal/confirm_decision.html", context)


class PartnerMembershipForm(forms.ModelForm):
    """A membership: the service's refusal is shown on its field."""

    class Meta:
        model = PartnerMembership
        fields = ["user", "organisation"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "user" in self.fields:
            # Only partner users belong to an organisation.
            self.fields["user"].queryset = (  # type: ignore[attr-defined]
                self.fields["user"].queryset.filter(groups__name=roles.PARTNER, is_staff=False).distinct()  # type: ignore[attr-defined]
            )

    def clean(self) -> dict[str, Any] | None:
        """Ask the service's rule before anything is saved."""
        cleaned = super().clean()
        user = self.cleaned_data.get("user")
        if user is not None:
            for field, message in partner_membership_refusals(membership=PartnerMembership(user=user)).items():
                if field not in self.errors:
                    self.add_error(field if field in self.fields else None, message)
        return cleaned


@admin.register(PartnerMembership)
class PartnerMembershipAdmin(AuditedAdminMixin, ReadOnlyHistoryMixin):
    list_display = ("user", "organisation", "modified_at", "modified_by")
    list_filter = (("organisation", admin.RelatedOnlyFieldListFilter),)
    search_fields = ("user__username", "user__email", "organisation__name")
    autocomplete_fields = ("organisation",)
    list_select_related = ("user", "organisation", "modified_by")
    fields = ("user", "organisation", *READ_ONLY_AUDIT_FIELDS[1:])
    readonly_fields = READ_ONLY_AUDIT_FIELDS[1:]  # all but the UUID: a membership is not in the API

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        """The membership's own form (it has no version to post back)."""
        kwargs["form"] = PartnerMembershipForm
        return super().get_form(request, obj, change, **kwargs)

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        """Through the service, which checks the user is a partner."""
        partner_membership_save(membership=obj, user=request.user)

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        """Through the service."""
        partner_membership_delete(membership=obj, user=request.user)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        """Each through the service."""
        for membership in queryset:
            partner_membership_delete(membership=membership, user=request.user)

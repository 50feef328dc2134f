"""The staff tool for programmes, funds and funding amounts, and the commitment's page (``admin_commitments``)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from commitments.permissions import may_change_commitment
from lsis.admin import READ_ONLY_AUDIT_FIELDS, AuditedAdminMixin, ReadOnlyHistoryMixin, VersionedAdminForm

# Importing the module registers the commitment's page, which shows its programmes and funding.
from programmes import admin_commitments  # noqa: F401
from programmes.admin_forms import FundingCommitmentForm, form_for_user
from programmes.models import FundingAmount, Programme
from programmes.services import (
    funding_amount_delete,
    funding_amount_save,
    programme_delete,
    programme_save,
)


class FundingAmountForm(FundingCommitmentForm, VersionedAdminForm):
    """A funding amount's own form: the commitment check, the version check, one funder or several jointly."""


class ProgrammeFundingInline(admin.TabularInline):
    model = FundingAmount
    form = FundingCommitmentForm
    fk_name = "programme"
    fields = ("key", "amount_text", "qualifier", "low", "high", "nature", "funder", "commitment", "part_of")
    autocomplete_fields = ("funder", "commitment", "part_of")
    extra = 0
    show_change_link = True

    def get_formset(self, request: HttpRequest, obj: Any = None, **kwargs: Any) -> Any:
        """Rows whose commitment is checked against the user who saves them."""
        formset = super().get_formset(request, obj, **kwargs)
        formset.form = form_for_user(formset.form, request)
        return formset


@admin.register(Programme)
class ProgrammeAdmin(AuditedAdminMixin, ReadOnlyHistoryMixin):
    list_display = ("name", "short_name", "kind", "funder", "parent")
    list_filter = ("kind", ("funder", admin.RelatedOnlyFieldListFilter))
    search_fields = ("name", "short_name")
    autocomplete_fields = ("funder", "parent", "commitments")
    readonly_fields = READ_ONLY_AUDIT_FIELDS
    list_select_related = ("funder", "parent")
    inlines = [ProgrammeFundingInline]

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        """Through the service, with the commitments it delivers, so the programme scopes' figures follow."""
        commitments = form.cleaned_data.get("commitments") if "commitments" in form.fields else None
        programme_save(programme=obj, user=request.user, commitments=commitments)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        """The funding rows; the commitments (the form's one many-to-many field) were saved with the programme."""
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)

    def save_inline_row(self, request: HttpRequest, instance: Any) -> None:
        """A funding row through its service."""
        funding_amount_save(amount=instance, user=request.user)

    def delete_inline_row(self, request: HttpRequest, instance: Any) -> None:
        """A funding row's removal through its service."""
        funding_amount_delete(amount=instance, user=request.user)

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        """Through the service: the commitments it delivered leave its scope."""
        programme_delete(programme=obj, user=request.user)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Programme]) -> None:
        """Each through the service."""
        for programme in queryset:
            programme_delete(programme=programme, user=request.user)


@admin.register(FundingAmount)
class FundingAmountAdmin(AuditedAdminMixin, ReadOnlyHistoryMixin):
    form = FundingAmountForm
    list_display = ("key", "amount_text", "qualifier", "low", "high", "nature", "funder", "commitment", "programme")
    list_filter = ("nature", "qualifier", ("funder", admin.RelatedOnlyFieldListFilter))
    search_fields = ("key", "amount_text", "commitment__reference", "programme__name", "funder__name")
    autocomplete_fields = ("funder", "joint_funders", "commitment", "programme", "part_of")
    readonly_fields = READ_ONLY_AUDIT_FIELDS
    list_select_related = ("funder", "commitment", "programme")

    def _may_change_its_commitment(self, request: HttpRequest, obj: Any) -> bool:
        return obj is None or obj.commitment_id is None or may_change_commitment(request.user, obj.commitment)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """The funding of a published commitment is changed only by those who may change the commitment."""
        return super().has_change_permission(request, obj) and self._may_change_its_commitment(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """Likewise for removing it."""
        return super().has_delete_permission(request, obj) and self._may_change_its_commitment(request, obj)

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        """The form, told who is saving it."""
        return form_for_user(super().get_form(request, obj, change, **kwargs), request)

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        """Through the service, joint funders included, so the figures of its commitment follow."""
        joint_funders = form.cleaned_data.get("joint_funders") if "joint_funders" in form.fields else None
        funding_amount_save(amount=obj, user=request.user, joint_funders=joint_funders)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        """The joint funders (the form's one many-to-many field) were saved with the amount, by the service."""
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        """Through the service."""
        funding_amount_delete(amount=obj, user=request.user)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[FundingAmount]) -> None:
        """Each through the service."""
        for amount in queryset:
            funding_amount_delete(amount=amount, user=request.user)

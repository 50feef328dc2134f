"""The staff tool for programmes, funds and funding amounts."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.http import HttpRequest

from commitments.models import Commitment
from commitments.permissions import may_change_commitment
from lsis.admin import READ_ONLY_AUDIT_FIELDS, AuditedAdminMixin, ReadOnlyHistoryMixin, VersionedAdminForm
from programmes.models import FundingAmount, Programme


class FundingCommitmentForm(forms.ModelForm):
    """Funding is part of its commitment: it is attached only to a commitment the user may change."""

    user: Any = None  # set per request by the admin that builds the form

    def clean_commitment(self) -> Commitment | None:
        """Refuse a commitment the user may not change (a published one, for an editor)."""
        commitment: Commitment | None = self.cleaned_data.get("commitment")
        if commitment is not None and not may_change_commitment(self.user, commitment):
            raise ValidationError(
                f"You may not change {commitment.reference}: once a commitment is published, only those who may "
                "publish commitments change it or its funding.",
                code="commitment_not_changeable",
            )
        return commitment


def _form_for(form: type[forms.ModelForm], request: HttpRequest) -> type[forms.ModelForm]:
    return type(form.__name__, (form,), {"user": request.user})


class FundingAmountForm(FundingCommitmentForm, VersionedAdminForm):
    """A funding amount's own form: the commitment check and the version check."""


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
        formset.form = _form_for(formset.form, request)
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


@admin.register(FundingAmount)
class FundingAmountAdmin(AuditedAdminMixin, ReadOnlyHistoryMixin):
    form = FundingAmountForm
    list_display = ("key", "amount_text", "qualifier", "low", "high", "nature", "funder", "commitment", "programme")
    list_filter = ("nature", "qualifier", ("funder", admin.RelatedOnlyFieldListFilter))
    search_fields = ("key", "amount_text", "commitment__reference", "programme__name", "funder__name")
    autocomplete_fields = ("funder", "commitment", "programme", "part_of")
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
        return _form_for(super().get_form(request, obj, change, **kwargs), request)

"""The staff tool for programmes, funds and funding amounts."""

from __future__ import annotations

from django.contrib import admin

from lsis.admin import READ_ONLY_AUDIT_FIELDS, AuditedAdminMixin, ReadOnlyHistoryMixin
from programmes.models import FundingAmount, Programme


class ProgrammeFundingInline(admin.TabularInline):
    model = FundingAmount
    fk_name = "programme"
    fields = ("key", "amount_text", "qualifier", "low", "high", "nature", "funder", "commitment", "part_of")
    autocomplete_fields = ("funder", "commitment", "part_of")
    extra = 0
    show_change_link = True


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
    list_display = ("key", "amount_text", "qualifier", "low", "high", "nature", "funder", "commitment", "programme")
    list_filter = ("nature", "qualifier", ("funder", admin.RelatedOnlyFieldListFilter))
    search_fields = ("key", "amount_text", "commitment__reference", "programme__name", "funder__name")
    autocomplete_fields = ("funder", "commitment", "programme", "part_of")
    readonly_fields = READ_ONLY_AUDIT_FIELDS
    list_select_related = ("funder", "commitment", "programme")

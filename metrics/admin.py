"""Admin for sector reference statistics."""

from __future__ import annotations

from django.contrib import admin

from metrics.models import RegionalStatistic


@admin.register(RegionalStatistic)
class RegionalStatisticAdmin(admin.ModelAdmin):
    list_display = ("region", "region_as_printed", "employment", "turnover_text", "turnover_millions")
    search_fields = ("region",)
    readonly_fields = ("uuid", "created_at", "modified_at")

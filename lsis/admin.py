"""Admin building blocks shared by every app."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import Model
from django.forms import ModelForm
from django.http import HttpRequest


class AuditedAdminMixin(admin.ModelAdmin):
    """Record who created and last changed a record edited in the admin, on the record and its inlines."""

    def save_model(self, request: HttpRequest, obj: Any, form: ModelForm[Any], change: bool) -> None:
        """Stamp the acting user before saving."""
        _stamp(obj, request)
        super().save_model(request, obj, form, change)

    def save_formset(self, request: HttpRequest, form: ModelForm[Any], formset: Any, change: bool) -> None:
        """Stamp the acting user on every inline record that is saved."""
        instances = formset.save(commit=False)
        for instance in instances:
            _stamp(instance, request)
            instance.save()
        for deleted in formset.deleted_objects:
            deleted.delete()
        formset.save_m2m()


def _stamp(obj: Model, request: HttpRequest) -> None:
    user = request.user if request.user.is_authenticated else None
    if hasattr(obj, "modified_by_id"):
        if obj.pk is None:
            obj.created_by = user  # type: ignore[attr-defined]
        obj.modified_by = user  # type: ignore[attr-defined]

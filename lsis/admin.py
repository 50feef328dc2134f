"""Admin building blocks shared by every app: who changed what, no lost edits, and no write a role may not make.

Every admin of the project is built from these:

- ``GuardedAdminMixin``: an action the user is not offered answers 403, and an action that declares no
  permission of its own needs the permission to change the model;
- ``AuditedAdminMixin`` (a ``GuardedAdminMixin``): who created and changed a record, and the version check;
- ``ReadOnlyHistoryMixin``: django-simple-history's pages show old versions but never revert to one, since a
  revert would save the model directly, past the services and their checks;
- ``LabelledAutocompleteJsonView``: the pickers' search answers, labelled and ordered as the searched
  model's admin says (``autocomplete_label``, ``autocomplete_ordering``), the chosen record labelled alike.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.admin.utils import flatten_fieldsets
from django.contrib.admin.views.autocomplete import AutocompleteJsonView
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Model, QuerySet
from django.http import HttpRequest, HttpResponse
from simple_history.admin import SimpleHistoryAdmin

from lsis.models import ConcurrentEditError

READ_ONLY_AUDIT_FIELDS = ("uuid", "created_at", "created_by", "modified_at", "modified_by")


MISSING_VERSION = (
    "This form did not say which version of the record it changes, so it could overwrite a later change by "
    "someone else. Nothing has been saved: open the record again and make your change there."
)


class VersionedAdminForm(forms.ModelForm):
    """Carries the version the user opened, so that saving cannot overwrite someone else's later change.

    A change of an existing record must send the version back: without it there is nothing to check the
    save against, so the change is refused rather than saved unchecked.
    """

    version = forms.IntegerField(widget=forms.HiddenInput, required=False, min_value=1)
    conflict: ConcurrentEditError | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None:
            self.fields["version"].initial = self.instance.version
        if self.conflict is not None and self.conflict.current is not None and self.is_bound:
            # Keep what the user typed, but let a second, deliberate save go through.
            data = self.data.copy()  # type: ignore[attr-defined]
            data[self.add_prefix("version")] = self.conflict.current.version  # type: ignore[attr-defined]
            self.data = data

    def clean(self) -> dict[str, Any] | None:
        """Refuse the save that lost the race, saying who won it and when, and a change that names no version."""
        cleaned = super().clean()
        if self.conflict is not None:
            raise ValidationError(self.conflict.describe(), code="concurrent_edit")
        if self.instance.pk is not None and self.cleaned_data.get("version") is None:
            # Shown above the form: the field itself is hidden.
            raise ValidationError(MISSING_VERSION, code="missing_version")
        return cleaned

    def _post_clean(self) -> None:
        super()._post_clean()  # type: ignore[misc]
        version = self.cleaned_data.get("version")
        if version is not None and self.instance.pk is not None:
            self.instance.version = version


class LabelledAutocompleteJsonView(AutocompleteJsonView):
    """The admin's autocomplete (``/admin/autocomplete/``, every picker's search), as the searched model's admin says.

    That admin may define ``autocomplete_label(obj) -> str``, what a picker shows for a record instead of
    ``str(obj)`` (a bare code is easy to mistake for another), and ``autocomplete_ordering``, the order of
    the results. Who may search is Django's check: the permission to view the searched model (403 without).
    """

    def get_queryset(self) -> QuerySet[Any]:
        """The records matching the search, in the admin's autocomplete order if it has one."""
        queryset = super().get_queryset()
        ordering = getattr(self.model_admin, "autocomplete_ordering", None)
        return queryset.order_by(*ordering) if ordering else queryset

    def serialize_result(self, obj: Model, to_field_name: str) -> dict[str, str]:
        """One result: its key, and the admin's label for it."""
        label = getattr(self.model_admin, "autocomplete_label", None)
        return {"id": str(getattr(obj, to_field_name)), "text": label(obj) if label else str(obj)}


def autocomplete_labelled(formfield: Any, site: admin.AdminSite, db_field: Any) -> Any:
    """A picker's field showing its chosen record with the label its search gives (``autocomplete_label``)."""
    remote = getattr(db_field, "remote_field", None)
    remote_admin = site._registry.get(remote.model) if remote is not None else None
    label = getattr(remote_admin, "autocomplete_label", None)
    if formfield is not None and label is not None:
        formfield.label_from_instance = label
    return formfield


class GuardedAdminMixin(admin.ModelAdmin):
    """Actions are writes: each is offered only to those who may make it, and refused (403) to anyone else.

    Django offers an action that declares no ``permissions`` to anyone who may see the list; here such an
    action needs the permission to change the model. A POST naming an action the user is not offered
    answers 403 instead of being quietly ignored.
    """

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        """The actions this user may take: those declaring no permission need the change permission."""
        actions: dict[str, Any] = super().get_actions(request)
        if self.has_change_permission(request):
            return actions
        return {name: action for name, action in actions.items() if getattr(action[0], "allowed_permissions", None)}

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        """A picker of another record shows it as that record's admin labels it (``autocomplete_label``)."""
        formfield = super().formfield_for_foreignkey(db_field, request, **kwargs)
        return autocomplete_labelled(formfield, self.admin_site, db_field)

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        """Refuse an action this user is not offered before the list does anything else."""
        if request.method == "POST":
            offered = self.get_actions(request)
            if any(name and name not in offered for name in request.POST.getlist("action")):
                raise PermissionDenied("You may not take that action.")
        return super().changelist_view(request, extra_context)


class ReadOnlyHistoryMixin(SimpleHistoryAdmin):
    """The history of a record, readable by whoever may view it; reverting through it is refused to everyone.

    django-simple-history's "revert" form saves the model as posted, checking only that the user may view
    it, and past the services that check permission, validate and audit. ``SIMPLE_HISTORY_REVERT_DISABLED``
    only hides its button, so the form itself refuses anything but reading. To restore an old value, copy
    it into the record's change form.
    """

    def revert_disabled(self, request: HttpRequest, obj: Any = None) -> bool:
        """No revert button, whatever the user's permissions."""
        return True

    def history_form_view(
        self, request: HttpRequest, object_id: str, version_id: str, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        """Show an old version of the record; any other method than reading answers 403."""
        if request.method not in ("GET", "HEAD"):
            raise PermissionDenied("Old versions are shown here, not restored.")
        return super().history_form_view(request, object_id, version_id, extra_context)


class AuditedAdminMixin(GuardedAdminMixin):
    """Record who created and last changed a record edited in the admin, and refuse lost updates.

    Records with a ``version`` (``lsis.models.VersionedModel``) are saved with an UPDATE that checks the
    version the user opened. When someone else saved in between, the save is rolled back and the form
    is shown again with the user's input and a message naming who changed the record and when.
    """

    form = VersionedAdminForm

    def _is_versioned(self) -> bool:
        return any(field.name == "version" for field in self.model._meta.concrete_fields)

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        """The model form, told about a conflict found on the previous attempt of this request."""
        if not self._is_versioned():
            kwargs.setdefault("form", forms.ModelForm)
        # ``version`` is a declared form field, not an editable model field. (fields=None means "all
        # editable fields": the admin asks for that while working out the fieldsets themselves.)
        if "fields" not in kwargs:
            kwargs["fields"] = flatten_fieldsets(self.get_fieldsets(request, obj))
        if kwargs["fields"] is not None:
            kwargs["fields"] = [name for name in kwargs["fields"] if name != "version"]
        form = super().get_form(request, obj, change, **kwargs)
        conflict = getattr(request, "_concurrent_edit", None)
        if conflict is not None:
            form = type(form.__name__, (form,), {"conflict": conflict})
        return form

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        """Add the hidden version to the first fieldset, so that the form posts it back."""
        fieldsets = super().get_fieldsets(request, obj)
        if not self._is_versioned() or obj is None:
            return fieldsets
        first_name, first_options = fieldsets[0]
        first = {**first_options, "fields": [*first_options["fields"], "version"]}
        return [(first_name, first), *fieldsets[1:]]

    def changeform_view(
        self, request: HttpRequest, object_id: str | None = None, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        """Show the form again, with the user's input, if the save lost a race with another user."""
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except ConcurrentEditError as conflict:
            request._concurrent_edit = conflict  # type: ignore[attr-defined]
            return super().changeform_view(request, object_id, form_url, extra_context)

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        """Stamp the acting user before saving."""
        stamp_user(obj, request)
        super().save_model(request, obj, form, change)

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        """Save the inline rows through ``save_inline_row`` and ``delete_inline_row``.

        An admin whose inline rows have a service (whatever the figures read) routes them there; the
        default stamps the acting user and saves.
        """
        instances = formset.save(commit=False)
        for deleted in formset.deleted_objects:
            self.delete_inline_row(request, deleted)
        for instance in instances:
            stamp_user(instance, request)
            self.save_inline_row(request, instance)
        formset.save_m2m()

    def save_inline_row(self, request: HttpRequest, instance: Any) -> None:
        """Save one new or changed inline row (override to call the row's service)."""
        instance.save()

    def delete_inline_row(self, request: HttpRequest, instance: Any) -> None:
        """Delete one inline row (override to call the row's service)."""
        instance.delete()


def stamp_user(obj: Model, request: HttpRequest) -> None:
    """Set created_by/modified_by on an audited record from the request's user."""
    user = request.user if request.user.is_authenticated else None
    if hasattr(obj, "modified_by_id"):
        if obj.pk is None:
            obj.created_by = user  # type: ignore[attr-defined]
        obj.modified_by = user  # type: ignore[attr-defined]

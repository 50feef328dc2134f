"""Owners and contributors of commitments in the admin: on the commitment's form, and many at once.

``CommitmentOwnersAdminMixin`` is a base of the commitment's admin (``programmes.admin_commitments``). It
adds the page "Assign owners" (linked from the list's tools): choose an area or a lead organisation, an
owner and any contributors, see how many commitments that is, confirm. Both that page and the form save
through ``commitments.ownership.commitment_assign_owners``; those without the permission to assign owners
(editors, board members) see the fields read-only and are refused the page (403).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.widgets import FilteredSelectMultiple
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.http import urlencode

from commitments.models import Commitment, Organisation, OrganisationRole, Theme, ThemeKind
from commitments.ownership import ASSIGN_OWNER_PERMISSION, commitment_assign_owners

OWNER_FIELDS = ("owner", "contributors")


def _staff() -> QuerySet[Any]:
    return get_user_model().objects.filter(is_staff=True, is_active=True).order_by("username")


class StaffChoiceField(forms.ModelChoiceField):
    """A member of staff, shown by name and username."""

    def label_from_instance(self, obj: Any) -> str:
        """Name (username), or the username alone."""
        name = obj.get_full_name()
        return f"{name} ({obj.get_username()})" if name else obj.get_username()


class StaffMultipleChoiceField(forms.ModelMultipleChoiceField):
    """Members of staff, shown by name and username."""

    def label_from_instance(self, obj: Any) -> str:
        """Name (username), or the username alone."""
        return StaffChoiceField.label_from_instance(self, obj)  # type: ignore[arg-type]


class AssignOwnersForm(forms.Form):
    """Which commitments (an area's or a lead organisation's), and who owns and contributes to them."""

    area = forms.ModelChoiceField(
        queryset=Theme.objects.filter(kind=ThemeKind.AREA)
        .select_related("parent")
        .order_by("parent__position", "position"),
        required=False,
        help_text="Every commitment of this area.",
    )
    organisation = forms.ModelChoiceField(
        label="Lead organisation",
        queryset=Organisation.objects.none(),
        required=False,
        help_text="Or every commitment this organisation leads.",
    )
    owner = StaffChoiceField(queryset=_staff(), help_text="The member of staff asked for the quarterly update.")
    contributors = StaffMultipleChoiceField(queryset=_staff(), required=False, help_text="Optional.")
    replace_contributors = forms.BooleanField(
        required=False,
        label="Replace their contributors",
        help_text="Unticked, these contributors are added to those each commitment has.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        leads = Organisation.objects.filter(involvements__role=OrganisationRole.LEAD).distinct().order_by("name")
        self.fields["organisation"].queryset = leads  # type: ignore[attr-defined]
        self.fields["owner"].queryset = _staff()  # type: ignore[attr-defined]
        self.fields["contributors"].queryset = _staff()  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any] | None:
        """Exactly one of an area and a lead organisation."""
        cleaned = super().clean() or {}
        if bool(cleaned.get("area")) == bool(cleaned.get("organisation")):
            raise ValidationError("Choose either an area or a lead organisation, not both.")
        return cleaned

    def commitments(self) -> QuerySet[Commitment]:
        """The commitments chosen (once the form is valid)."""
        if self.cleaned_data.get("area"):
            return Commitment.objects.filter(area=self.cleaned_data["area"])
        return Commitment.objects.filter(
            involvements__organisation=self.cleaned_data["organisation"], involvements__role=OrganisationRole.LEAD
        ).distinct()


class CommitmentOwnersAdminMixin(admin.ModelAdmin):
    """Owners on the commitment's form and the bulk "Assign owners" page, saved through the owners' service."""

    change_list_template = "admin/commitments/commitment/change_list_owners.html"

    def has_assign_owners_permission(self, request: HttpRequest) -> bool:
        """Whether the user may assign owners (reviewers: ``commitments.roles``)."""
        return bool(request.user.has_perm(ASSIGN_OWNER_PERMISSION))

    def get_list_select_related(self, request: HttpRequest) -> Any:
        """The owner column's person comes with the rows."""
        related = super().get_list_select_related(request)
        return related if related is True else (*(related or ()), "owner")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        """Owners are shown to all, changed only by those who may assign them."""
        readonly = tuple(super().get_readonly_fields(request, obj))
        return readonly if self.has_assign_owners_permission(request) else (*readonly, *OWNER_FIELDS)

    def formfield_for_manytomany(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        """Contributors in a two-list picker."""
        if db_field.name == "contributors":
            kwargs["widget"] = FilteredSelectMultiple("contributors", is_stacked=False)
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def save_form(self, request: HttpRequest, form: Any, change: bool) -> Any:
        """Hold the owner and contributors back from the commitment's save: the owners' service sets them.

        The commitment's own save (its edit service) then sees neither; ``construct_change_message``, which
        runs once the commitment and its rows are saved, in the same transaction, hands them to the service.
        """
        obj = super().save_form(request, form, change)
        wanted = [name for name in OWNER_FIELDS if name in form.changed_data]
        if wanted:
            form._owners_wanted = {name: form.cleaned_data[name] for name in wanted}
            form._owners_changed_data = list(form.changed_data)
            form.changed_data = [name for name in form.changed_data if name not in OWNER_FIELDS]
            stored = Commitment.objects.filter(pk=obj.pk).values_list("owner_id", flat=True).first() if change else None
            obj.owner_id = stored
        return obj

    def construct_change_message(self, request: HttpRequest, form: Any, formsets: Any, add: bool = False) -> Any:
        """Assign the owner and contributors held back by ``save_form``, then describe the whole change."""
        wanted = getattr(form, "_owners_wanted", None)
        if wanted:
            commitment = form.instance
            commitment_assign_owners(
                commitments=[commitment],
                owner=wanted.get("owner", commitment.owner),
                contributors=wanted.get("contributors", ()),
                user=request.user,
                replace_contributors="contributors" in wanted,
            )
            form.changed_data = form._owners_changed_data
        return super().construct_change_message(request, form, formsets, add)

    def get_urls(self) -> list[Any]:
        """Add the "Assign owners" page."""
        info = self.opts.app_label, self.opts.model_name
        return [
            path(
                "assign-owners/",
                self.admin_site.admin_view(self.assign_owners_view),
                name="{}_{}_assign_owners".format(*info),
            ),
            *super().get_urls(),
        ]

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        """Offer "Assign owners" in the list's tools to those who may assign them."""
        context = {**(extra_context or {}), "may_assign_owners": self.has_assign_owners_permission(request)}
        return super().changelist_view(request, context)

    def assign_owners_view(self, request: HttpRequest) -> HttpResponse:
        """Choose the commitments and the people, confirm with the count, then assign them all."""
        if not self.has_assign_owners_permission(request):
            raise PermissionDenied("Your role does not include assigning owners.")
        form = AssignOwnersForm(request.POST if request.method == "POST" else None)
        matching: QuerySet[Commitment] | None = None
        if request.method == "POST" and form.is_valid():
            matching = form.commitments()
            if request.POST.get("confirm") == "yes":
                try:
                    count = commitment_assign_owners(
                        commitments=matching,
                        owner=form.cleaned_data["owner"],
                        contributors=form.cleaned_data["contributors"],
                        user=request.user,
                        replace_contributors=form.cleaned_data["replace_contributors"],
                    )
                except ValidationError as refusal:
                    for name, errors in refusal.message_dict.items():
                        form.add_error(name if name in form.fields else None, errors)
                else:
                    owner = form.cleaned_data["owner"]
                    self.message_user(
                        request,
                        f"{count} commitment{'s' if count != 1 else ''} now owned by {owner.get_username()}.",
                        messages.SUCCESS,
                    )
                    changelist = reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_changelist")
                    return HttpResponseRedirect(f"{changelist}?{urlencode({'owner__id__exact': owner.pk})}")
        references = (
            list(matching.order_by("reference").values_list("reference", flat=True)) if matching is not None else []
        )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Assign owners",
            "form": form,
            "confirming": matching is not None and not form.errors,
            "references": references,
            "count": len(references),
            "cancel_url": reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_changelist"),
        }
        return TemplateResponse(request, "admin/commitments/commitment/assign_owners.html", context)

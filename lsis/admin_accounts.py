"""User accounts and roles in the admin: Django's own pages, with the guards every admin of the project has.

Administrators manage accounts: they add users, give them roles (groups) and switch accounts off. They do
not make anyone a superuser, grant single permissions, change a superuser's account (its password
included), or change their own roles: each of those would let an administrator give themselves every right.
A member of staff's team and reminder frequency (``StaffProfile``) are on their account's page, saved
through ``lsis.core.profiles.staff_profile_update``.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group
from django.http import HttpRequest

from lsis.admin import GuardedAdminMixin
from lsis.core.models import StaffProfile
from lsis.core.profiles import CHANGE_ACCOUNTS_PERMISSION, staff_profile_update

# Rights only a superuser hands out.
SUPERUSER_FIELDS = ("is_superuser", "user_permissions")


class StaffProfileForm(forms.ModelForm):
    """The profile's fields; a new profile left empty is not created (its reminders keep their default)."""

    class Meta:
        model = StaffProfile
        fields = ("team", "reminder_frequency")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["reminder_frequency"].required = False

    def has_changed(self) -> bool:
        """A new profile counts as changed only once something is typed or chosen in it."""
        if self.instance.pk is None and not any(
            self.data.get(self.add_prefix(name)) for name in ("team", "reminder_frequency")
        ):
            return False
        return super().has_changed()


class StaffProfileInline(admin.StackedInline):
    """A member of staff's team and reminder frequency, kept by those who manage accounts."""

    model = StaffProfile
    form = StaffProfileForm
    fields = ("team", "reminder_frequency")
    can_delete = False
    extra = 1
    max_num = 1
    verbose_name = "team and reminders"
    verbose_name_plural = "team and reminders"

    def _may_manage(self, request: HttpRequest) -> bool:
        return bool(request.user.has_perm(CHANGE_ACCOUNTS_PERMISSION))

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """Whoever may manage accounts sees it (the profile has no permissions of its own)."""
        return self._may_manage(request) or super().has_view_permission(request, obj)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """Likewise for giving a member of staff a profile."""
        return self._may_manage(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """Likewise for changing it."""
        return self._may_manage(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """A profile is changed, never deleted."""
        return False


class AccountAdmin(GuardedAdminMixin, UserAdmin):
    """Users, as Django's admin shows them, without the ways to raise one's own rights."""

    inlines = [StaffProfileInline]

    def get_inline_instances(self, request: HttpRequest, obj: Any = None) -> list[Any]:
        """Only members of staff have a team and reminders."""
        if obj is None or not obj.is_staff:
            return []
        return super().get_inline_instances(request, obj)

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        """The profile through its service; Django's own rows (none else today) as Django saves them."""
        if formset.model is not StaffProfile:
            super().save_formset(request, form, formset, change)
            return
        formset.save(commit=False)  # writes nothing: lists what changed, for the history message
        if not form.instance.is_staff:  # staff status taken away in the same save: no team, no reminders
            return
        for profile_form in formset.forms:
            if not profile_form.has_changed() or not profile_form.cleaned_data:
                continue
            staff_profile_update(
                user=form.instance,
                team=profile_form.cleaned_data.get("team", ""),
                reminder_frequency=profile_form.cleaned_data.get("reminder_frequency") or None,
                actor=request.user,
            )

    def _may_change_account(self, request: HttpRequest, obj: Any) -> bool:
        return obj is None or request.user.is_superuser or not obj.is_superuser

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """A superuser's account is changed (and its password set) by superusers only."""
        return super().has_change_permission(request, obj) and self._may_change_account(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """Likewise for deleting it."""
        return super().has_delete_permission(request, obj) and self._may_change_account(request, obj)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        """Superuser status and single permissions are shown, not changed; one's own roles likewise."""
        readonly = tuple(super().get_readonly_fields(request, obj))
        if request.user.is_superuser:
            return readonly
        own = obj is not None and obj.pk == request.user.pk
        return (*readonly, *SUPERUSER_FIELDS, *(("groups",) if own else ()))


class RoleAdmin(GuardedAdminMixin, GroupAdmin):
    """The role groups (``commitments.roles``), as Django's admin shows them."""


for model, model_admin in ((get_user_model(), AccountAdmin), (Group, RoleAdmin)):
    if admin.site.is_registered(model):
        admin.site.unregister(model)
    admin.site.register(model, model_admin)

"""User accounts and roles in the admin: Django's own pages, with the guards every admin of the project has.

Administrators manage accounts: they add users, give them roles (groups) and switch accounts off. They do
not make anyone a superuser, grant single permissions, change a superuser's account (its password
included), or change their own roles: each of those would let an administrator give themselves every right.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group
from django.http import HttpRequest

from lsis.admin import GuardedAdminMixin

# Rights only a superuser hands out.
SUPERUSER_FIELDS = ("is_superuser", "user_permissions")


class AccountAdmin(GuardedAdminMixin, UserAdmin):
    """Users, as Django's admin shows them, without the ways to raise one's own rights."""

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

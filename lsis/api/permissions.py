"""Permission classes the API's views share; which permission each needs is said by the app that owns it."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request


class PermissionRequired(BasePermission):
    """The user holds ``permission`` (a Django permission, ``app_label.codename``); ``message`` says who may.

    Subclass it per rule, naming the permission the service checks, so that the API refuses (403)
    before the request body is read what the service would refuse anyway.
    """

    permission: str = ""
    message = "You do not have permission to do this."

    def has_permission(self, request: Request, view: Any) -> bool:
        """Checked before the request body is read."""
        if not self.permission:
            raise NotImplementedError(f"{type(self).__name__} names no permission.")
        return bool(request.user and request.user.has_perm(self.permission))

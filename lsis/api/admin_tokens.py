"""API tokens in the admin: issue one (shown once), see who holds which, revoke by deleting."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from knox.models import AuthToken

from lsis.admin import GuardedAdminMixin
from lsis.api.tokens import DEFAULT_EXPIRY_DAYS, MAX_EXPIRY_DAYS, api_token_expiry, api_token_issue


class IssueTokenForm(forms.ModelForm):
    """Whom the token is for and how long it lasts."""

    expires_days = forms.IntegerField(
        initial=DEFAULT_EXPIRY_DAYS,
        label="Expires in (days)",
        help_text=f"At most {MAX_EXPIRY_DAYS}; 0 for a token that never expires.",
    )

    class Meta:
        model = AuthToken
        fields = ["user"]

    def clean_expires_days(self) -> int:
        """The token service's limit, as a message on the field."""
        days: int = self.cleaned_data["expires_days"]
        try:
            api_token_expiry(days=days)
        except ValueError as error:
            raise ValidationError(str(error), code="expiry") from error
        return days


class AuthTokenAdmin(GuardedAdminMixin, admin.ModelAdmin):
    list_display = ("token_key", "user", "created", "expiry")
    list_filter = ("created", "expiry")
    search_fields = ("token_key", "user__username")
    raw_id_fields = ("user",)
    ordering = ("-created",)

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        if obj is None:
            kwargs["form"] = IssueTokenForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return ["user", "expires_days"] if obj is None else ["token_key", "user", "created", "expiry"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return [] if obj is None else ["token_key", "user", "created", "expiry"]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False if obj is not None else super().has_change_permission(request, obj)

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        expires_in = api_token_expiry(days=form.cleaned_data["expires_days"])
        record, token = api_token_issue(user=form.cleaned_data["user"], expires_in=expires_in)
        form.instance = record
        obj.pk = record.pk
        obj.token_key = record.token_key
        self.message_user(
            request,
            f"The token for {record.user.get_username()} is {token} . It is shown only now; copy it and send it "
            "safely. Delete the token here to revoke it.",
            messages.WARNING,
        )

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "user":
            kwargs["queryset"] = get_user_model()._default_manager.filter(is_active=True)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


if admin.site.is_registered(AuthToken):
    admin.site.unregister(AuthToken)
admin.site.register(AuthToken, AuthTokenAdmin)

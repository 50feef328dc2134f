"""Issuing and revoking API tokens (django-rest-knox: stored as a hash, optionally expiring).

The token itself is shown once, when issued; only its hash is kept, so a lost token is revoked and a
new one issued. Revoking deletes the token's row: the next request with it gets 401.

A token lasts at most ``MAX_EXPIRY_DAYS`` days (ten years), or never expires; a longer life is refused
here, whoever asks (the admin's form, ``manage.py issue_token``).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db import transaction
from knox.models import AuthToken

DEFAULT_EXPIRY_DAYS = 365
MAX_EXPIRY_DAYS = 3650
EXPIRY_RULE = (
    f"A token expires after 1 to {MAX_EXPIRY_DAYS} days (ten years), or never (0). Issue a new token before "
    "the old one expires rather than one that lasts longer."
)


class TokenExpiryError(ValueError):
    """The token's expiry is outside what the service allows; the message says what is."""


def api_token_expiry(*, days: int) -> timedelta | None:
    """The lifetime of a token that expires after ``days`` days, or ``None`` (never) for 0."""
    if not 0 <= days <= MAX_EXPIRY_DAYS:
        raise TokenExpiryError(f"{days} days is not allowed. {EXPIRY_RULE}")
    return timedelta(days=days) if days else None


@transaction.atomic
def api_token_issue(*, user: Any, expires_in: timedelta | None) -> tuple[AuthToken, str]:
    """Issue a token for ``user``; return the stored record and the token, which is not kept anywhere."""
    if expires_in is not None and not timedelta(0) < expires_in <= timedelta(days=MAX_EXPIRY_DAYS):
        raise TokenExpiryError(f"A token cannot expire after {expires_in}. {EXPIRY_RULE}")
    if not user.is_active:
        raise ValueError(f"{user.get_username()} is not active; activate the account before issuing a token.")
    return AuthToken.objects.create(user=user, expiry=expires_in)


@transaction.atomic
def api_token_revoke(*, token: AuthToken) -> None:
    """Revoke a token at once."""
    token.delete()

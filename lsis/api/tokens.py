"""Issuing and revoking API tokens (django-rest-knox: stored as a hash, optionally expiring).

The token itself is shown once, when issued; only its hash is kept, so a lost token is revoked and a
new one issued. Revoking deletes the token's row: the next request with it gets 401.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db import transaction
from knox.models import AuthToken

DEFAULT_EXPIRY_DAYS = 365


@transaction.atomic
def api_token_issue(*, user: Any, expires_in: timedelta | None) -> tuple[AuthToken, str]:
    """Issue a token for ``user``; return the stored record and the token, which is not kept anywhere."""
    if not user.is_active:
        raise ValueError(f"{user.get_username()} is not active; activate the account before issuing a token.")
    return AuthToken.objects.create(user=user, expiry=expires_in)


@transaction.atomic
def api_token_revoke(*, token: AuthToken) -> None:
    """Revoke a token at once."""
    token.delete()

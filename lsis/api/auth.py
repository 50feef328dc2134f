"""Token authentication that refuses an address after repeated failed token attempts."""

from __future__ import annotations

import hashlib
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone
from knox.auth import TokenAuthentication
from knox.signals import token_expired
from rest_framework import exceptions
from rest_framework.request import Request

from commitments.changes import request_data_stamp

_FAILURES_KEY = "api:failed-token:{}"
# A cached authentication is keyed by the data stamp, which moves when a token is revoked. This bounds
# how long a revoked token could still pass if a process died between the revocation's commit and the
# stamp's move.
TOKEN_CACHE_SECONDS = 60


def _client_address(request: Request) -> str:
    return str(request.META.get("REMOTE_ADDR", "unknown"))


class ThrottledTokenAuthentication(TokenAuthentication):
    """Knox tokens (``Authorization: Token <token>``); too many wrong tokens from one address get 429.

    Guessing tokens is pointless (they are 64 random characters, stored hashed), but a client that keeps
    sending a wrong or expired one is refused quickly, before any lookup, until the period has passed.
    """

    _request: Request | None = None

    def _cleanup_token(self, auth_token: Any) -> bool:
        """Refuse (and delete) the presented token if it has expired.

        Knox would also look through all the user's other tokens on every request to delete expired
        ones: a query per request for no gain, since an expired token is refused whenever it is shown.
        """
        if auth_token.expiry is not None and auth_token.expiry < timezone.now():
            username = auth_token.user.get_username()
            auth_token.delete()
            token_expired.send(sender=self.__class__, username=username, source="auth_token")
            return True
        return False

    def authenticate_credentials(self, token: bytes) -> tuple[Any, Any]:
        """Knox's check, its result kept in the cache until the data stamp moves.

        Issuing, revoking or deleting a token and changing a user all move the stamp, so a cached result
        is never one the database would no longer give. The key holds a digest of the token presented,
        so only the same token finds it; expiry is checked again every time.
        """
        stamp = request_data_stamp(self._request) if self._request is not None else None
        if stamp is None:
            return super().authenticate_credentials(token)
        presented = hashlib.sha256(token).hexdigest()
        key = f"api:token:{stamp.epoch}:{stamp.version}:{presented}"
        found = cache.get(key)
        if found is not None and (found[1].expiry is None or found[1].expiry >= timezone.now()):
            return tuple(found)
        found = super().authenticate_credentials(token)
        cache.set(key, found, timeout=TOKEN_CACHE_SECONDS)
        return tuple(found)

    def authenticate(self, request: Request) -> Any:
        """Refuse an address that has failed too often; count each failure."""
        self._request = request
        key = _FAILURES_KEY.format(_client_address(request))
        failures = cache.get(key, 0)
        if failures >= settings.API_FAILED_TOKEN_LIMIT and request.META.get("HTTP_AUTHORIZATION"):
            raise exceptions.Throttled(
                wait=settings.API_FAILED_TOKEN_PERIOD,
                detail="Too many requests with a wrong or expired token from this address; try again later.",
            )
        try:
            return super().authenticate(request)
        except exceptions.AuthenticationFailed:
            if not cache.add(key, 1, timeout=settings.API_FAILED_TOKEN_PERIOD):
                cache.incr(key)
            raise

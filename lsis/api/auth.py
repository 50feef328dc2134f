"""Token authentication that refuses wrong tokens, not valid ones, from an address that keeps sending them."""

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

from lsis.client_address import client_address
from lsis.core.changes import request_data_stamp

_FAILURES_KEY = "api:failed-token:{}"
# A cached authentication is keyed by the data stamp, which moves when a token is revoked. This bounds
# how long a revoked token could still pass if a process died between the revocation's commit and the
# stamp's move.
TOKEN_CACHE_SECONDS = 60


class ThrottledTokenAuthentication(TokenAuthentication):
    """Knox tokens (``Authorization: Token <token>``); too many wrong tokens from one address get 429.

    Guessing tokens is pointless (they are 64 random characters, stored hashed), but a client that keeps
    sending a wrong or expired one is told to stop (429) until the period has passed. The presented
    token is always checked first, which costs one indexed lookup at most (none when cached): a valid
    token is accepted whatever its address has sent before, so neither an attacker sharing the address
    nor a proxy in front of many clients can lock partners out. The address is the client's by the one
    configured rule (``lsis.client_address``).
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
        """Accept a valid token always; count a wrong one, and refuse it with 429 once its address is over the limit."""
        self._request = request
        try:
            return super().authenticate(request)
        except exceptions.AuthenticationFailed:
            if _count_failure(request) > settings.API_FAILED_TOKEN_LIMIT:
                raise exceptions.Throttled(
                    wait=settings.API_FAILED_TOKEN_PERIOD,
                    detail="Too many requests with a wrong or expired token from this address; try again later.",
                ) from None
            raise


def _count_failure(request: Request) -> int:
    """Count a failed token from the request's client address; the failures in its current period."""
    key = _FAILURES_KEY.format(client_address(request) or "unknown")
    if cache.add(key, 1, timeout=settings.API_FAILED_TOKEN_PERIOD):
        return 1
    try:
        count = cache.incr(key)
    except ValueError:  # the period ended between the two calls: this failure opens the next
        cache.set(key, 1, timeout=settings.API_FAILED_TOKEN_PERIOD)
        return 1
    # None: the cache is unreachable (django-redis ignores the error), so this failure is counted alone.
    return 1 if count is None else int(count)

"""Request rates per token (or per staff session), by scope: read, export, write."""

from __future__ import annotations

from typing import Any

from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import ScopedRateThrottle

from lsis.client_address import client_address


class TokenScopedRateThrottle(ScopedRateThrottle):
    """DRF's scoped throttle keyed by the token in use, so each of a partner's tokens has its own rate.

    A view names its scope in ``throttle_scope``; list views switch to ``export`` for CSV and XLSX.

    Requests are counted in a window that opens with the first request and lasts the rate's period,
    with one atomic increment per request. DRF's own throttle keeps the time of every request in the
    period and reads and writes that whole list on each request: at 1,200 requests a minute, that list
    costs more than answering a revalidation.
    """

    _retry_after: float = 0.0

    def get_rate(self) -> str | None:
        """The scope's rate as the settings say now (DRF reads them once, at import)."""
        rate = api_settings.DEFAULT_THROTTLE_RATES.get(str(self.scope))
        return str(rate) if rate is not None else None

    def get_ident(self, request: Request) -> str:
        """The client address by the one configured rule (``lsis.client_address``), not DRF's own.

        DRF's, without NUM_PROXIES, takes the whole X-Forwarded-For header as the address: any client
        could claim a new one with each request.
        """
        return client_address(request) or "unknown"

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        """Key on the token's public key when a token is used, else on the user or the address."""
        token_key = getattr(request.auth, "token_key", None)
        if token_key:
            ident = f"token:{token_key}"
        elif request.user and request.user.is_authenticated:
            ident = f"user:{request.user.pk}"
        else:
            ident = self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}

    def allow_request(self, request: Request, view: Any) -> bool:
        """Count the request in its token's window; refuse it once the window holds the rate's number."""
        self.scope = getattr(view, self.scope_attr, None)
        self.rate = self.get_rate() if self.scope else None
        if self.rate is None:
            return True
        limit, period = self.parse_rate(self.rate)
        if limit is None or period is None:
            return True
        self.num_requests, self.duration = limit, period
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        now = self.timer()
        count_key, opened_key = f"{self.key}:count", f"{self.key}:opened"
        if self.cache.add(count_key, 1, timeout=period):
            self.cache.set(opened_key, now, timeout=period)
            return True
        try:
            count = self.cache.incr(count_key)
        except ValueError:  # the window closed between the two calls: this request opens the next
            self.cache.set(count_key, 1, timeout=period)
            self.cache.set(opened_key, now, timeout=period)
            return True
        if count is None:  # the cache is unreachable (django-redis ignores the error): nothing to count with
            return True
        if count <= limit:
            return True
        self._retry_after = period - (now - float(self.cache.get(opened_key, now)))
        return False

    def wait(self) -> float | None:
        """Seconds until the window closes."""
        return max(self._retry_after, 1.0)

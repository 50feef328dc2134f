"""Request rates per token (or per staff session), by scope: read, export, write."""

from __future__ import annotations

from typing import Any

from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import ScopedRateThrottle


class TokenScopedRateThrottle(ScopedRateThrottle):
    """DRF's scoped throttle keyed by the token in use, so each of a partner's tokens has its own rate.

    A view names its scope in ``throttle_scope``; list views switch to ``export`` for CSV and XLSX.
    """

    def get_rate(self) -> str | None:
        """The scope's rate as the settings say now (DRF reads them once, at import)."""
        rate = api_settings.DEFAULT_THROTTLE_RATES.get(str(self.scope))
        return str(rate) if rate is not None else None

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

"""Where a request's client address comes from: one rule for the API's limits and the sign-in lockout.

Without ``API_CLIENT_IP_HEADER`` the address is the connection's own (``REMOTE_ADDR``), and any
forwarding header is ignored: a client can write whatever it likes in one. Behind reverse proxies,
``API_CLIENT_IP_HEADER`` names the header they fill in (``X-Forwarded-For``) and
``API_TRUSTED_PROXY_COUNT`` how many of them there are. Each proxy appends the address it was reached
from, so the client's is the one the outermost trusted proxy appended: that many entries from the right.
Entries further left were written by the client and are not believed.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from django.conf import settings


def client_address(request: Any) -> str | None:
    """The client's IP address for a Django or DRF request, by the configured rule; None if none is known.

    A header holding fewer entries than there are trusted proxies, or no address where the client's
    should be, did not come through them all: the connection's own address is used instead.
    """
    remote = request.META.get("REMOTE_ADDR") or None
    header = settings.API_CLIENT_IP_HEADER
    if not header:
        return remote
    forwarded = request.META.get("HTTP_" + header.upper().replace("-", "_"), "")
    entries = [entry.strip() for entry in forwarded.split(",")] if forwarded else []
    count = settings.API_TRUSTED_PROXY_COUNT
    if len(entries) < count:
        return remote
    candidate = entries[-count]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return remote

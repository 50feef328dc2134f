"""Links between the dashboard pages that keep the reader on the same period."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.urls import reverse

from metrics.dashboards import Period


def period_query(period: Period, **extra: Any) -> str:
    """The query string that keeps a page on the same period (the quarter in progress stays "so far", not a day)."""
    params = (
        {"as_of": period.as_of.isoformat()}
        if period.time_travel and period.as_of
        else {"quarter": period.quarter.label}
    )
    params.update({key: value for key, value in extra.items() if value not in ("", None)})
    return "?" + urlencode(params)


def scope_url(period: Period, scope_type: str, scope_key: str) -> str:
    """A scope's page on the same period."""
    return reverse("dashboards:scope", args=[scope_type, scope_key]) + period_query(period)

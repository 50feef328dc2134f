"""Links between the dashboard pages that keep the reader on the same period."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.urls import reverse

from metrics.dashboards import Period
from metrics.rules import DEFAULT_POPULATION


def period_query(period: Period, **extra: Any) -> str:
    """The query string that keeps a page on the same period and population.

    The quarter in progress stays "so far", not a day; the population is named where it is not the default.
    """
    params = (
        {"as_of": period.as_of.isoformat()}
        if period.time_travel and period.as_of
        else {"quarter": period.quarter.label}
    )
    if period.population != DEFAULT_POPULATION:
        params["population"] = period.population
    params.update({key: value for key, value in extra.items() if value not in ("", None)})
    return "?" + urlencode(params)


def changes_url(period: Period) -> str:
    """The "what changed" page from the end of the quarter before the period's to the period's day."""
    params = {"since": period.quarter.previous().label}
    if period.time_travel and period.as_of:
        params["as_of"] = period.as_of.isoformat()
    else:
        params["until"] = period.quarter.label
    if period.population != DEFAULT_POPULATION:
        params["population"] = period.population
    return reverse("dashboards:changes") + "?" + urlencode(params)


def scope_url(period: Period, scope_type: str, scope_key: str, **filters: Any) -> str:
    """A scope's page on the same period; with ``filters`` (``CommitmentFilterForm``), at its filtered list."""
    url = reverse("dashboards:scope", args=[scope_type, scope_key]) + period_query(period, **filters)
    return url + "#commitments" if filters else url

"""Money committed and spent, by type of funder and by programme."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse

from metrics import dashboards
from metrics.models import ScopeType
from metrics.table_builders import funder_types_table, money_table, programmes_money_table
from metrics.views.common import dashboard, page_context, read_period, respond


@dashboard
def funding(request: HttpRequest) -> HttpResponse:
    """Money committed, by type of funder and by programme; each table has a total row equal to the overview's."""
    quarters = dashboards.reporting_quarters()
    period = read_period(request, quarters)
    figures = dashboards.quarter_figures(period, [ScopeType.TRACKER])
    tracker = figures[ScopeType.TRACKER][0] if figures[ScopeType.TRACKER] else None
    # The money of the commitments of the period's population, as the tracker's figures above count it.
    total = dashboards.funding_total(period.day, period.population)
    by_type = funder_types_table(dashboards.funding_by_funder_type(period.day, period.population), total)
    by_programme = programmes_money_table(period, dashboards.funding_by_programme(period.day, period.population))
    tables = [money_table(tracker), by_type, by_programme]
    context = page_context(request, period, quarters, tracker=tracker, page="funding")
    return respond(request, "dashboards/funding.html", context, tables, f"funding-{period.day}")

"""The quarter overview and the breakdowns by deal, foundation and area, theme and actor."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse

from metrics import dashboards
from metrics.models import ScopeType
from metrics.table_builders import (
    confidence_chart,
    figures_table,
    foundations_table,
    headline_table,
    money_table,
    movement_table,
)
from metrics.views.common import BadInputError, dashboard, page_context, read_period, respond


@dashboard
@dashboard
def overview(request: HttpRequest) -> HttpResponse:
    """The quarter overview, the home page."""
    quarters = dashboards.reporting_quarters()
    period = read_period(request, quarters)
    data = dashboards.overview_read(period, quarters)
    previous_label = data.previous_quarter.quarter.label if data.previous_quarter else ""
    tables = [
        headline_table(data.tracker, data.previous, previous_label, period.description),
        movement_table(data.tracker),
        money_table(data.tracker),
        foundations_table(period, data.foundations),
        figures_table("actors", "By actor", "Actor", period, data.actors),
        figures_table("deals", "By deal", "Deal", period, data.deals),
    ]
    charts = [confidence_chart("foundation_confidence", "Confidence by foundation", [f for f, _ in data.foundations])]
    context = page_context(request, period, quarters, overview=data, charts=charts, page="overview")
    return respond(request, "dashboards/overview.html", context, tables, f"overview-{period.day}")


@dashboard
@dashboard
def breakdown(request: HttpRequest, scope_type: str) -> HttpResponse:
    """The figures of every scope of one type, each linking to its page."""
    if scope_type not in dashboards.BREAKDOWN_SCOPES:
        raise Http404(f"There is no breakdown by “{scope_type}”.")
    quarters = dashboards.reporting_quarters()
    period = read_period(request, quarters)
    title = dashboards.BREAKDOWN_SCOPES[scope_type]
    frameworks, framework = [], None
    if scope_type == ScopeType.FOUNDATION:
        figures = dashboards.quarter_figures(period, [ScopeType.FOUNDATION, ScopeType.AREA])
        grouped = dashboards.foundations_with_areas(figures[ScopeType.FOUNDATION], figures[ScopeType.AREA])
        table = foundations_table(period, grouped)
        chart_items = [foundation for foundation, _ in grouped]
    else:
        items = dashboards.quarter_figures(period, [scope_type])[scope_type]
        if scope_type == ScopeType.THEME:
            frameworks = dashboards.theme_frameworks()
            wanted = request.GET.get("framework") or (frameworks[0].code if frameworks else "")
            framework = next((item for item in frameworks if item.code == wanted), None)
            if framework is None and frameworks:
                raise BadInputError(
                    {"Framework": [f"Choose one of the frameworks: {', '.join(f.code for f in frameworks)}."]}
                )
            items = dashboards.themes_of(framework, items) if framework else []
        table = figures_table(scope_type, title, str(ScopeType(scope_type).label), period, items)
        chart_items = items
    charts = (
        [
            confidence_chart(
                f"{scope_type}_confidence", f"Confidence by {ScopeType(scope_type).label.lower()}", chart_items
            )
        ]
        if len(chart_items) <= 40
        else []
    )
    context = page_context(
        request,
        period,
        quarters,
        title=title,
        scope_type=scope_type,
        frameworks=frameworks,
        framework=framework,
        charts=charts,
        page="breakdown",
    )
    return respond(request, "dashboards/breakdown.html", context, [table], f"{scope_type}-{period.day}")

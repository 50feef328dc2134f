"""The quarter overview and the breakdowns by deal, foundation and area, theme and actor."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from django.conf import settings
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse

from metrics import dashboards, forms, links
from metrics.breakdowns import BREAKDOWN_SORTS, breakdown_sorted, pagination, sort_columns, sort_links
from metrics.dashboards import Period
from metrics.links import changes_url
from metrics.models import ScopeType
from metrics.table_builders import (
    confidence_chart,
    figures_table,
    foundations_table,
    headline_table,
    money_table,
    movement_table,
)
from metrics.tables import Table
from metrics.tiles import headline_tiles, reporting_gap_tiles
from metrics.views.common import BadInputError, Option, dashboard, form_errors, page_context, read_period, respond


@dashboard
def overview(request: HttpRequest) -> HttpResponse:
    """The quarter overview, the home page."""
    quarters = dashboards.reporting_quarters()
    period = read_period(request, quarters)
    data = dashboards.overview_read(period, quarters)
    previous_label = data.previous_quarter.quarter.label if data.previous_quarter else ""
    previous_period = (
        Period.of_quarter(data.previous_quarter, population=period.population) if data.previous_quarter else None
    )
    tables = [
        headline_table(
            data.tracker,
            data.previous,
            previous_label,
            period.description,
            period=period,
            previous_period=previous_period,
        ),
        movement_table(data.tracker, changes_url(period) if data.previous_quarter else ""),
        money_table(data.tracker),
        foundations_table(period, data.foundations),
        figures_table("actors", "By actor", "Actor", period, data.actors),
        figures_table("deals", "By deal", "Deal", period, data.deals),
    ]
    charts = [confidence_chart("foundation_confidence", "Confidence by foundation", [f for f, _ in data.foundations])]
    tiles = headline_tiles(period, data.tracker) if data.tracker else []
    gap = reporting_gap_tiles(period, data.tracker) if data.tracker else []
    context = page_context(
        request,
        period,
        quarters,
        overview=data,
        charts=charts,
        tiles=tiles,
        gap_tiles=gap,
        changes_link=changes_url(period),
        page="overview",
    )
    return respond(request, "dashboards/overview.html", context, tables, f"overview-{period.day}")


@dashboard
def breakdown(request: HttpRequest, scope_type: str) -> HttpResponse:
    """The figures of every scope of one type, each linking to its page."""
    if scope_type not in dashboards.BREAKDOWN_SCOPES:
        raise Http404(f"There is no breakdown by “{scope_type}”.")
    quarters = dashboards.reporting_quarters()
    period = read_period(request, quarters)
    title = dashboards.BREAKDOWN_SCOPES[scope_type]
    frameworks, framework = [], None
    listing: dict[str, Any] | None = None  # the sort form and pages of a breakdown that has them
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
        table, listing = _sorted_page(request, period, scope_type, title, items, framework)
        chart_items = items
    # A long list is cut to the largest and "Others" by the chart's builder (table_builders.top_and_others).
    noun = ScopeType(scope_type).label.lower()
    charts = [confidence_chart(f"{scope_type}_confidence", f"Confidence by {noun}", chart_items)]
    context = page_context(
        request,
        period,
        quarters,
        title=title,
        scope_type=scope_type,
        frameworks=frameworks,
        framework=framework,
        charts=charts,
        listing=listing,
        page="breakdown",
    )
    return respond(request, "dashboards/breakdown.html", context, [table], f"{scope_type}-{period.day}")


def _sorted_page(
    request: HttpRequest, period: dashboards.Period, scope_type: str, title: str, items: list[Any], framework: Any
) -> tuple[Table, dict[str, Any]]:
    """A breakdown's table sorted as the query asks, one page of it (all rows in its CSV), and its controls."""
    form = forms.BreakdownSortForm(request.GET)
    if not form.is_valid():
        raise BadInputError(form_errors(form))
    sort, order = form.cleaned_data["sort"], form.cleaned_data["order"]
    rows = breakdown_sorted(items, sort=sort, descending=order == "desc")
    paginator = Paginator(rows, settings.DASHBOARD_PAGE_SIZE)
    page = paginator.get_page(form.cleaned_data["page"] or 1)
    listed = rows if request.GET.get("download") else list(page.object_list)
    table = figures_table(scope_type, title, str(ScopeType(scope_type).label), period, listed)
    kept = {"framework": framework.code} if framework is not None else {}

    def query(**extra: str) -> str:
        return links.period_query(period, **kept, **extra)

    anchor = f"#table-{table.id}"
    table.sort_links = {
        index: (href + anchor, state)
        for index, (href, state) in sort_links(query, sort_columns(table.headers), sort, order).items()
    }
    return table, {
        "page_obj": page,
        "pages": pagination(page, query(sort=sort, order=order)),
        "anchor": anchor,
        "sort_options": [Option(key, label, key == sort) for key, (label, _) in BREAKDOWN_SORTS.items()],
        "order_options": [Option(key, label, key == order) for key, label in forms.ORDER_CHOICES],
        # The sort form keeps the page's period, population and framework as hidden fields.
        "hidden": parse_qsl(query().removeprefix("?")),
    }

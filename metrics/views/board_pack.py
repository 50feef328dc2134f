"""The board pack: one printable page per quarter, and the same page as a PDF (``metrics.pdf``).

Everything in the pack is as of one moment: the period's day (a completed quarter's last day, or today for
the quarter in progress). A signed-off quarter shows only what was signed off: its stored figures, and
lists read from the state recorded at sign-off (``Period.recorded_at``), so that every list agrees with the
figure beside it; what has moved since is listed apart, as restatements.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.urls import reverse

from commitments.delivery import DeliveryConfidence
from commitments.models import Commitment, Dependency
from metrics import dashboards, rules
from metrics.dashboards import Overview, Period
from metrics.links import period_query
from metrics.svg_charts import SvgChart, horizontal_bars
from metrics.table_builders import (
    changes_tables,
    commitments_table,
    confidence_chart,
    figures_table,
    foundations_table,
    headline_table,
    measure_chart,
    money_table,
    movement_table,
    status_chart,
)
from metrics.tables import Cell, Table, confidence_cell
from metrics.views.common import dashboard, page_context, read_period, respond

# The movements the pack lists, in its order; the new approved updates are on the "what changed" page.
MOVEMENT_LISTS = ("improved", "worsened", "newly_delivered", "newly_rated", "rating_withdrawn", "newly_overdue")
# The charts' width in SVG units: about a printed pixel each, so that their 11px text prints near 8pt beside a
# table on a landscape A4 page.
HALF_WIDTH = 500


def _lists(period: Period) -> list[Table]:
    """The pack's lists of commitments, as of the period's day, from the state the figures beside them read."""
    recorded = period.recorded_at
    past = "" if period.is_current else period_query(period)
    every = Commitment.objects.all()

    def rows(**filters: Any) -> list[Any]:
        return list(dashboards.commitments_on(every, period, approved_by=recorded, **filters))

    def listed(table_id: str, caption: str, found: list[Any]) -> Table:
        return commitments_table(found, table_id, f"{caption} ({len(found):,})", query=past)

    red = rows(confidence=DeliveryConfidence.RED)
    amber_red = rows(confidence=DeliveryConfidence.AMBER_RED)
    overdue = rows(overdue=True, sort="target")
    return [
        listed("red", "Commitments rated red", red),
        listed("amber_red", "Commitments rated amber/red", amber_red),
        blocked_table([*red, *amber_red], overdue, query=past),
        listed("overdue", "Overdue: target date passed, not delivered", overdue),
        listed("stale", "No approved update this quarter", rows(stale=True)),
    ]


def blocked_table(at_risk_rows: list[Any], overdue_rows: list[Any], *, query: str = "") -> Table:
    """At-risk commitments that depend on one at risk or overdue: "Blocked by SD2-PEOPLE-G3 (overdue)".

    At risk is ``rules.AT_RISK`` and overdue ``rules.is_overdue``, as the pack's own lists (``at_risk_rows``,
    ``overdue_rows``, rows of ``dashboards.commitments_on``) read them on its day; one more query reads the
    dependencies of the commitments at risk.
    """
    at_risk = {row.pk: row for row in at_risk_rows if row.state_confidence in rules.AT_RISK}
    overdue = {row.pk for row in overdue_rows}
    blockers: dict[int, list[str]] = {}
    edges = (
        Dependency.objects.filter(commitment_id__in=at_risk)
        .order_by("depends_on__reference")
        .values_list("commitment_id", "depends_on_id", "depends_on__reference")
    )
    for source, target, reference in edges:
        reasons = []
        if target in overdue:
            reasons.append("overdue")
        if target in at_risk:
            reasons.append(f"rated {str(DeliveryConfidence(at_risk[target].state_confidence).label).lower()}")
        if reasons:
            blockers.setdefault(source, []).append(f"{reference} ({', '.join(reasons)})")
    table = Table(
        "blocked",
        f"At risk and blocked: depending on a commitment at risk or overdue ({len(blockers):,})",
        ["Reference", "Commitment", "Confidence", "Blocked by"],
        numeric_from=9,
        empty="No commitment at risk depends on one at risk or overdue.",
    )
    for row in sorted((at_risk[pk] for pk in blockers), key=lambda row: row.reference):
        text = row.text if len(row.text) <= 140 else row.text[:137].rstrip() + "…"
        table.add(
            Cell(row.reference, href=reverse("dashboards:commitment", args=[row.reference]) + query, header=True),
            Cell(text),
            confidence_cell(row.state_confidence),
            Cell("Blocked by " + "; ".join(blockers[row.pk])),
        )
    return table


def _charts(period: Period, data: Overview) -> dict[str, SvgChart]:
    """The pack's charts, drawn on the server (``metrics.svg_charts``) from the figures its tables show."""
    foundations = [foundation for foundation, _ in data.foundations]
    areas = [area for _, areas in data.foundations for area in areas]
    overdue_areas = sorted((area for area in areas if area.overdue), key=lambda area: -area.overdue)
    day = f"{period.day:%-d %B %Y}"
    charts = [
        horizontal_bars(
            status_chart("foundation_status", "Delivery status by foundation", foundations),
            width=HALF_WIDTH,
            label_width=150,
            description=f"Commitments in each foundation by delivery status, as of {day}.",
        ),
        horizontal_bars(
            confidence_chart("foundation_confidence", "Confidence by foundation", foundations),
            width=HALF_WIDTH,
            label_width=150,
            description=f"Commitments in each foundation by confidence rating, unrated ones included, as of {day}.",
        ),
        horizontal_bars(
            # Most first, those with none left out: a long list is cut to the largest and others (``chart``).
            measure_chart("area_overdue", "Overdue commitments by area, most first", overdue_areas, "overdue"),
            width=HALF_WIDTH,
            label_width=250,
            empty=f"No commitment is overdue on {day}.",
            description=f"Overdue commitments in each area as of {day}, most first; areas with none are left out.",
        ),
    ]
    return {chart.id: chart for chart in charts}


def _board_pack(request: HttpRequest) -> tuple[dict[str, Any], list[Table]]:
    quarters = dashboards.reporting_quarters()
    period = read_period(request, quarters)
    data = dashboards.overview_read(period, quarters)
    previous_label = data.previous_quarter.quarter.label if data.previous_quarter else ""
    changes_data = dashboards.changes_between(
        period.quarter.previous().end,
        period.day,
        quarters,
        updates_limit=0,
        approved_by=period.recorded_at,
        population=period.population,
    )
    changed = {table.id: table for table in changes_tables(changes_data)}
    movements = [changed[name] for name in MOVEMENT_LISTS]
    tables = [
        headline_table(data.tracker, data.previous, previous_label, period.description),
        money_table(data.tracker),
        foundations_table(period, data.foundations),
        figures_table("actors", "By actor", "Actor", period, data.actors),
        movement_table(data.tracker),
        *movements,
        *_lists(period),
        changed["restatements"],
    ]
    context = page_context(
        request,
        period,
        quarters,
        overview=data,
        changes=changes_data,
        charts=_charts(period, data),
        movements_listed=[table for table in movements if table.rows],
        movements_none=[table.caption for table in movements if not table.rows],
        page="board-pack",
    )
    return context, tables


@dashboard
def board_pack(request: HttpRequest) -> HttpResponse:
    """One printable page per quarter: overview, what changed, at risk, overdue, no update, restatements."""
    context, tables = _board_pack(request)
    return respond(request, "dashboards/board_pack.html", context, tables, f"board-pack-{context['period'].day}")


@dashboard
def board_pack_pdf(request: HttpRequest) -> HttpResponse:
    """The board pack as a PDF (WeasyPrint; docs/adr/0004-board-pack-pdf.md)."""
    # Imported here: WeasyPrint loads Pango, which only the PDF needs, not every process that loads the URLs.
    from metrics.pdf import board_pack_pdf_render

    context, tables = _board_pack(request)
    html = render_to_string(
        "dashboards/board_pack.html", {**context, "tables": {t.id: t for t in tables}, "pdf": True}, request=request
    )
    pdf = board_pack_pdf_render(html=html, base_url=request.build_absolute_uri("/"))
    response = HttpResponse(pdf, content_type="application/pdf")
    period = context["period"]
    name = period.quarter.label.replace(" ", "-") + (f"-so-far-{period.day}" if period.in_progress else "")
    response["Content-Disposition"] = f'attachment; filename="board-pack-{name}.pdf"'
    return response

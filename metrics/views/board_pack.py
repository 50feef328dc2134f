"""The board pack: one printable page per quarter, and the same page as a PDF (``metrics.pdf``)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string

from commitments.delivery import DeliveryConfidence
from commitments.models import Commitment
from metrics import dashboards
from metrics.links import period_query
from metrics.table_builders import (
    changes_tables,
    commitments_table,
    figures_table,
    foundations_table,
    headline_table,
    money_table,
)
from metrics.tables import Table
from metrics.views.common import dashboard, page_context, read_period, respond


def _board_pack(request: HttpRequest) -> tuple[dict[str, Any], list[Table]]:
    quarters = dashboards.reporting_quarters()
    period = read_period(request, quarters)
    data = dashboards.overview_read(period, quarters)
    previous_label = data.previous_quarter.quarter.label if data.previous_quarter else ""
    changes_data = dashboards.changes_between(period.quarter.previous().end, period.day, quarters, updates_limit=0)
    red = dashboards.commitments_on(Commitment.objects.all(), period, confidence=DeliveryConfidence.RED)
    amber_red = dashboards.commitments_on(Commitment.objects.all(), period, confidence=DeliveryConfidence.AMBER_RED)
    change_tables = [t for t in changes_tables(changes_data) if t.id != "new_updates"]
    past = "" if period.is_current else period_query(period)
    tables = [
        headline_table(data.tracker, data.previous, previous_label, period.description),
        money_table(data.tracker),
        foundations_table(period, data.foundations),
        figures_table("actors", "By actor", "Actor", period, data.actors),
        *change_tables,
        commitments_table(red, "red", "Commitments rated red", query=past),
        commitments_table(amber_red, "amber_red", "Commitments rated amber/red", query=past),
    ]
    context = page_context(request, period, quarters, overview=data, changes=changes_data, page="board-pack")
    return context, tables


@dashboard
@dashboard
def board_pack(request: HttpRequest) -> HttpResponse:
    """One printable page per quarter: overview, what changed, and the red and amber/red commitments."""
    context, tables = _board_pack(request)
    return respond(request, "dashboards/board_pack.html", context, tables, f"board-pack-{context['period'].day}")


@dashboard
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

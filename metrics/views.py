"""The board dashboards: server-rendered pages in the GOV.UK Design System.

Views stay thin: they parse the query string (``metrics.forms``), read through ``metrics.dashboards`` and
lay the results out as ``metrics.tables.Table`` objects, which the templates render and ``?download=<id>``
returns as CSV. Every page needs a signed-in user who may view the quarterly figures (board members,
editors, reviewers, administrators; not partners).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import Permission
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe

from commitments.delivery import DeliveryConfidence
from commitments.models import Commitment, OrganisationKind
from commitments.periods import Quarter
from metrics import dashboards, rules
from metrics.dashboards import Changes, Period, ScopeFigures, UnknownScopeError
from metrics.forms import CommitmentFilterForm, ComparisonForm, PeriodForm
from metrics.models import ReportingQuarter, ScopeType
from metrics.services import markers_pending
from metrics.tables import (
    Cell,
    Table,
    confidence_cell,
    day_text,
    download,
    money,
    money_range,
    percent,
    status_cell,
)
from programmes.models import AmountNature
from programmes.totals import Money, MoneyByProgramme

VIEW_PERMISSION = "metrics.view_quartermetric"
CONFIDENCE_SERIES = [*DeliveryConfidence.values, "no_confidence"]


class BadInputError(Exception):
    """The query string cannot be read: answered with a 400 page listing each field's problem."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__(errors)
        self.errors = errors


def may_read_dashboards(user: Any) -> bool:
    """Whether the user's roles include reading the quarterly figures (``commitments.roles``), in one query.

    The same answer as ``user.has_perm(VIEW_PERMISSION)``, which would read the user's and the groups'
    permissions in two queries on every page.
    """
    if not user.is_active:
        return False
    if user.is_superuser:
        return True
    app_label, codename = VIEW_PERMISSION.split(".")
    granted = Q(group__user=user) | Q(user=user)
    return Permission.objects.filter(granted, content_type__app_label=app_label, codename=codename).exists()


def dashboard(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Sign-in, the permission to read figures, and bad input answered with a 400 page."""

    @login_required
    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not may_read_dashboards(request.user):
            raise PermissionDenied("Your role does not include the board dashboards.")
        try:
            return view(request, *args, **kwargs)
        except BadInputError as error:
            return render(request, "400.html", {"errors": error.errors}, status=400)

    return wrapped


def _errors(form: Any) -> dict[str, list[str]]:
    return {
        str(form.fields[name].label or name) if name in form.fields else name: list(messages)
        for name, messages in form.errors.items()
    }


def _period(request: HttpRequest, quarters: list[ReportingQuarter]) -> Period:
    """The period the query string asks for; the latest quarter by default."""
    form = PeriodForm(request.GET)
    if not form.is_valid():
        raise BadInputError(_errors(form))
    as_of: date | None = form.cleaned_data["as_of"]
    quarter: Quarter | None = Quarter.containing(as_of) if as_of else form.cleaned_data["quarter"]
    if not quarters:
        raise Http404("No quarterly figures have been computed yet.")
    reporting = quarters[-1] if quarter is None else dashboards.quarter_row(quarters, quarter)
    if reporting is None:
        raise Http404(f"The tracker has no figures for {quarter}.")
    return Period(reporting, as_of)


def period_query(period: Period, **extra: Any) -> str:
    """The query string that keeps a page on the same period."""
    params = {"as_of": period.as_of.isoformat()} if period.as_of else {"quarter": period.quarter.label}
    params.update({key: value for key, value in extra.items() if value not in ("", None)})
    return "?" + urlencode(params)


def quarter_options(quarters: list[ReportingQuarter], selected: Quarter | None) -> SafeString:
    """The quarter selector's options, latest first, signed-off quarters marked (built here: there are many)."""
    options = []
    for position, row in enumerate(reversed(quarters)):
        label = row.quarter.label + (" (signed off)" if row.is_locked else "") + (" (latest)" if position == 0 else "")
        chosen = mark_safe(" selected") if row.quarter == selected else ""
        options.append(format_html('<option value="{}"{}>{}</option>', row.quarter.label, chosen, label))
    return mark_safe("".join(options))  # noqa: S308 - each option is built with format_html


def choice_options(form: Any, name: str) -> SafeString:
    """A filter's options with the chosen one selected (built here: Django's widget templates are slow)."""
    chosen = str(form.data.get(name, ""))
    return mark_safe(  # noqa: S308 - values and labels are escaped
        "".join(
            f'<option value="{escape(str(value))}"{" selected" if str(value) == chosen else ""}>'
            f"{escape(str(label))}</option>"
            for value, label in form.fields[name].choices
        )
    )


def _context(request: HttpRequest, period: Period, quarters: list[ReportingQuarter], **extra: Any) -> dict[str, Any]:
    return {
        "period": period,
        "quarter_options": quarter_options(quarters, None if period.as_of else period.quarter),
        "period_query": period_query(period),
        "updating": markers_pending(),
        "today": timezone.localdate(),
        **extra,
    }


def _respond(
    request: HttpRequest, template: str, context: dict[str, Any], tables: list[Table], filename: str
) -> HttpResponse:
    wanted = request.GET.get("download")
    if wanted:
        return download(tables, wanted, filename)
    return render(request, template, {**context, "tables": {table.id: table for table in tables}})


# --- tables ------------------------------------------------------------------------------------------


FIGURE_HEADERS = [
    "Commitments",
    "Delivered",
    "Share delivered",
    "On track (green, amber/green)",
    "Amber",
    "At risk (amber/red, red)",
    "Not rated",
    "Overdue",
    "No update this quarter",
    "Mean progress",
]


def _scope_url(period: Period, scope_type: str, scope_key: str) -> str:
    return reverse("dashboards:scope", args=[scope_type, scope_key]) + period_query(period)


def _figure_cells(item: ScopeFigures) -> list[Cell | str | int | None]:
    mean = item.mean_progress
    return [
        item.commitments,
        item.delivered,
        Cell(percent(item.share_delivered), numeric=True),
        item.on_track,
        item.amber,
        item.at_risk,
        item.no_confidence,
        item.overdue,
        item.stale,
        Cell("n/a" if mean is None else f"{mean:.0f}%", numeric=True),
    ]


def _label_cell(period: Period, item: ScopeFigures, *, indent: bool = False) -> Cell:
    label = str(item.scope_label)
    if item.restated:
        label += " (restated since sign-off)"
    return Cell(
        label, href=_scope_url(period, item.scope_type, item.scope_key), header=True, hint="area" if indent else ""
    )


def figures_table(table_id: str, caption: str, first: str, period: Period, items: list[ScopeFigures]) -> Table:
    """One row of figures per scope, each linking to the scope's page."""
    table = Table(table_id, caption, [first, *FIGURE_HEADERS], empty="No figures for this period yet.")
    for item in items:
        table.add(_label_cell(period, item), *_figure_cells(item))
    return table


def foundations_table(period: Period, foundations: list[tuple[ScopeFigures, list[ScopeFigures]]]) -> Table:
    """Foundations, each followed by its areas."""
    table = Table(
        "foundations", "By foundation and area", ["Foundation or area", *FIGURE_HEADERS], empty="No figures yet."
    )
    for foundation, areas in foundations:
        table.add(_label_cell(period, foundation), *_figure_cells(foundation))
        for area in areas:
            table.add(_label_cell(period, area, indent=True), *_figure_cells(area))
    return table


def headline_table(tracker: ScopeFigures | None, previous: ScopeFigures | None, previous_label: str) -> Table:
    """The headline figures beside the previous quarter's, with the movement."""
    table = Table(
        "headline",
        "Headline figures and movement since the previous quarter",
        ["Measure", "This period", previous_label or "Previous quarter", "Change"],
    )
    if tracker is None:
        return table
    measures: list[tuple[str, Callable[[ScopeFigures], Any]]] = [
        ("Commitments", lambda f: f.commitments),
        ("Delivered", lambda f: f.delivered),
        ("In progress", lambda f: f.in_progress),
        ("Not started", lambda f: f.not_started),
        ("Not being pursued", lambda f: f.not_being_pursued),
        ("On track (green or amber/green)", lambda f: f.on_track),
        ("Amber", lambda f: f.amber),
        ("At risk (amber/red or red)", lambda f: f.at_risk),
        ("No confidence rating", lambda f: f.no_confidence),
        ("Overdue", lambda f: f.overdue),
        ("No approved update this quarter (stale)", lambda f: f.stale),
    ]
    for label, measure in measures:
        now = measure(tracker)
        before = measure(previous) if previous is not None else None
        change = "" if before is None else f"{now - before:+,}"
        table.add(label, now, before, Cell(change, numeric=True))
    table.add(
        "Share delivered",
        Cell(percent(tracker.share_delivered), numeric=True),
        Cell(percent(previous.share_delivered) if previous else "", numeric=True),
        Cell("", numeric=True),
    )
    return table


def movement_table(tracker: ScopeFigures | None) -> Table:
    """Commitments whose state moved since the previous quarter's end."""
    table = Table("movement", "Movement since the previous quarter's end", ["Movement", "Commitments"])
    if tracker is not None:
        table.add("Improved (status forward, or confidence towards green between two ratings)", tracker.improved)
        table.add("Worsened", tracker.worsened)
        table.add("Status changed", tracker.status_changed)
    return table


def money_table(tracker: ScopeFigures | None) -> Table:
    """New money committed against spent, with restated money and targets apart."""
    table = Table("money", "Money committed and spent", ["Money", "Amount"])
    if tracker is not None:
        open_ended = tracker.new_money_open_ended
        note = (
            f" ({open_ended} open-ended amount{'s' if open_ended != 1 else ''} counted at the floor)"
            if open_ended
            else ""
        )
        table.add(
            "New money committed" + note, Cell(money_range(tracker.new_money_low, tracker.new_money_high), numeric=True)
        )
        table.add("Spent to date (latest approved updates)", Cell(money(tracker.spent), numeric=True))
        table.add(
            "Previously announced money, restated (not new)",
            Cell(money_range(tracker.restated_low, tracker.restated_high), numeric=True),
        )
        table.add(
            "Targets and ambitions (not committed)",
            Cell(money_range(tracker.target_low, tracker.target_high), numeric=True),
        )
    return table


def _chart(
    chart_id: str, title: str, labels: list[str], series: list[dict[str, Any]], kind: str = "bar"
) -> dict[str, Any]:
    return {"id": chart_id, "title": title, "kind": kind, "labels": labels, "series": series}


def confidence_chart(chart_id: str, title: str, items: list[ScopeFigures]) -> dict[str, Any]:
    """Stacked bars of confidence ratings per scope."""
    names = dict(DeliveryConfidence.choices) | {"no_confidence": "Not rated"}
    return _chart(
        chart_id,
        title,
        [str(item.scope_label) for item in items],
        [
            {"key": name, "label": str(names[name]), "data": [getattr(item, name) for item in items]}
            for name in CONFIDENCE_SERIES
        ],
    )


# --- pages -------------------------------------------------------------------------------------------


@dashboard
def overview(request: HttpRequest) -> HttpResponse:
    """The quarter overview, the home page."""
    quarters = dashboards.reporting_quarters()
    period = _period(request, quarters)
    data = dashboards.overview_read(period, quarters)
    previous_label = data.previous_quarter.quarter.label if data.previous_quarter else ""
    tables = [
        headline_table(data.tracker, data.previous, previous_label),
        movement_table(data.tracker),
        money_table(data.tracker),
        foundations_table(period, data.foundations),
        figures_table("actors", "By actor", "Actor", period, data.actors),
        figures_table("deals", "By deal", "Deal", period, data.deals),
    ]
    charts = [confidence_chart("foundation_confidence", "Confidence by foundation", [f for f, _ in data.foundations])]
    context = _context(request, period, quarters, overview=data, charts=charts, page="overview")
    return _respond(request, "dashboards/overview.html", context, tables, f"overview-{period.day}")


@dashboard
def breakdown(request: HttpRequest, scope_type: str) -> HttpResponse:
    """The figures of every scope of one type, each linking to its page."""
    if scope_type not in dashboards.BREAKDOWN_SCOPES:
        raise Http404(f"There is no breakdown by “{scope_type}”.")
    quarters = dashboards.reporting_quarters()
    period = _period(request, quarters)
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
    context = _context(
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
    return _respond(request, "dashboards/breakdown.html", context, [table], f"{scope_type}-{period.day}")


@dashboard
def scope_detail(request: HttpRequest, scope_type: str, scope_key: str) -> HttpResponse:
    """One scope: its figures in every quarter, and its commitments, sortable and filterable."""
    quarters = dashboards.reporting_quarters()
    period = _period(request, quarters)
    try:
        history = dashboards.scope_history(period, scope_type, scope_key)
        commitments = dashboards.scope_commitments(scope_type, scope_key)
    except UnknownScopeError as error:
        raise Http404("There is no such scope.") from error
    filters = CommitmentFilterForm(request.GET)
    if not filters.is_valid():
        raise BadInputError(_errors(filters))
    options = filters.cleaned_data
    rows = dashboards.commitments_on(
        commitments,
        period,
        status=options["status"],
        confidence=options["confidence"],
        overdue=options["overdue"],
        sort=options["sort"],
        descending=options["order"] == "desc",
    )
    downloading = bool(request.GET.get("download"))
    paginator = Paginator(rows, settings.DASHBOARD_PAGE_SIZE)
    page = paginator.get_page(options["page"] or 1) if not downloading else None
    listed = rows if downloading else page.object_list  # type: ignore[union-attr]

    series = [(quarter.quarter.label, item) for quarter, item in history.points]
    if history.as_of_point is not None:
        series.append((f"As of {day_text(period.as_of)}", history.as_of_point))
    over_time = Table(
        "over_time",
        f"{history.label}: figures by quarter",
        [
            "Quarter",
            "Commitments",
            "Delivered",
            "Share delivered",
            "On track",
            "Amber",
            "At risk",
            "Not rated",
            "Overdue",
            "No update this quarter",
            "New money committed",
            "Spent",
        ],
    )
    for label, item in series:
        over_time.add(
            label + (" (signed off; restated since)" if item.restated else ""),
            item.commitments,
            item.delivered,
            Cell(percent(item.share_delivered), numeric=True),
            item.on_track,
            item.amber,
            item.at_risk,
            item.no_confidence,
            item.overdue,
            item.stale,
            Cell(money_range(item.new_money_low, item.new_money_high), numeric=True),
            Cell(money(item.spent), numeric=True),
        )
    listing = commitments_table(
        listed,
        "commitments",
        f"Commitments of {history.label} on {day_text(period.day)}",
        query="" if period.is_current else period_query(period),
    )
    base_filters = {key: request.GET.get(key, "") for key in ("status", "confidence", "overdue")}
    sort_links = _sort_links(period, base_filters, options["sort"], options["order"])
    listing.sort_links = {
        column: (sort_links[key]["href"] + "#commitments", sort_links[key]["aria_sort"])
        for column, key in SORT_COLUMNS.items()
    }
    charts = [
        _chart(
            "over_time_chart",
            f"{history.label}: delivery over time",
            [label for label, _ in series],
            [
                {"key": "delivered", "label": "Delivered", "data": [item.delivered for _, item in series]},
                {
                    "key": "green",
                    "label": "On track (green, amber/green)",
                    "data": [item.on_track for _, item in series],
                },
                {"key": "red", "label": "At risk (amber/red, red)", "data": [item.at_risk for _, item in series]},
                {"key": "overdue", "label": "Overdue", "data": [item.overdue for _, item in series]},
            ],
            kind="line",
        )
    ]
    context = _context(
        request,
        period,
        quarters,
        history=history,
        filters=filters,
        page_obj=page,
        charts=charts,
        filter_options={name: choice_options(filters, name) for name in ("status", "confidence", "sort", "order")},
        sort_links=sort_links,
        back=_back_link(period, scope_type),
        page_query=period_query(period, **base_filters, sort=options["sort"], order=options["order"]),
        scope_name=ScopeType(scope_type).label if scope_type in ScopeType.values else scope_type,
        page="breakdown",
    )
    return _respond(request, "dashboards/scope.html", context, [over_time, listing], f"{scope_type}-{scope_key}")


SORT_COLUMNS = {0: "reference", 2: "status", 3: "confidence", 4: "progress", 5: "target", 6: "updated"}


def _back_link(period: Period, scope_type: str) -> tuple[str, str]:
    """Where "back" goes from a scope's page: its breakdown (areas are in the foundations'), or the overview."""
    if scope_type == ScopeType.AREA:
        scope_type = ScopeType.FOUNDATION
    if scope_type in dashboards.BREAKDOWN_SCOPES:
        url = reverse("dashboards:breakdown", args=[scope_type]) + period_query(period)
        return url, f"Back to {dashboards.BREAKDOWN_SCOPES[scope_type].lower()}"
    return reverse("dashboards:overview") + period_query(period), "Back to the overview"


def _sort_links(period: Period, filters: dict[str, str], current: str, order: str) -> dict[str, dict[str, str]]:
    links = {}
    for key in dashboards.SORTS:
        flip = "desc" if key == current and order != "desc" else "asc"
        state = ("descending" if order == "desc" else "ascending") if key == current else "none"
        links[key] = {"href": period_query(period, **filters, sort=key, order=flip), "aria_sort": state}
    return links


def commitments_table(rows: Any, table_id: str, caption: str, query: str = "") -> Table:
    """Commitments with their state (annotated by ``commitments_on``), each linking to its page."""
    table = Table(
        table_id,
        caption,
        ["Reference", "Commitment", "Status", "Confidence", "Progress", "Target date", "Last update"],
        numeric_from=4,
        empty="No commitments match.",
    )
    for row in rows:
        text = row.text if len(row.text) <= 140 else row.text[:137].rstrip() + "…"
        progress = "" if row.state_progress is None else f"{row.state_progress}%"
        table.add(
            Cell(row.reference, href=reverse("dashboards:commitment", args=[row.reference]) + query, header=True),
            Cell(text),
            status_cell(row.state_status),
            confidence_cell(row.state_confidence),
            Cell(progress, numeric=True),
            Cell(row.target_date_text or day_text(row.target_date)),
            Cell(day_text(row.state_as_of) or "None approved"),
        )
    return table


@dashboard
def commitment_detail(request: HttpRequest, reference: str) -> HttpResponse:
    """One commitment as printed, with its organisations, money, links and approved updates.

    With ``as_of`` (or a past ``quarter``), the state and timeline are as they stood on that day.
    """
    form = PeriodForm(request.GET)
    if not form.is_valid():
        raise BadInputError(_errors(form))
    quarter: Quarter | None = form.cleaned_data["quarter"]
    as_of: date | None = form.cleaned_data["as_of"]
    day = as_of or (quarter.end if quarter is not None and quarter.end < timezone.localdate() else None)
    commitment = dashboards.commitment_for_page(reference)
    if commitment is None:
        raise Http404(f"There is no commitment {reference}.")
    timeline = [
        update
        for update in commitment.approved_updates  # type: ignore[attr-defined]
        if day is None or update.as_of <= day
    ]
    updates = Table(
        "updates",
        "Approved updates, latest first",
        ["As of", "Status", "Confidence", "Progress", "Spent", "Narrative", "Evidence"],
        numeric_from=9,
        empty="No approved updates yet.",
    )
    for update in timeline:
        evidence = "; ".join(f"{link.title} <{link.url}>" for link in update.evidence_links.all())
        if update.source_document_id:
            evidence = "; ".join(filter(None, [f"{update.source_document}: “{update.source_quote}”", evidence]))
        updates.add(
            Cell(day_text(update.as_of), header=True),
            status_cell(update.status),
            confidence_cell(update.confidence),
            "" if update.progress is None else f"{update.progress}%",
            money(update.funding_spent),
            update.narrative,
            evidence,
        )
    funding = Table(
        "funding",
        "Money",
        ["Amount as written", "Nature", "Funder", "Programme", "Part of", "Period"],
        numeric_from=9,
        empty="The documents attach no money to this commitment.",
    )
    for amount in commitment.funding.all():
        funding.add(
            Cell(amount.amount_text, header=True),
            Cell(
                amount.get_nature_display(),
                tag="govuk-tag--green" if amount.nature == AmountNature.NEW_MONEY else "govuk-tag--grey",
            ),
            str(amount.funder or ""),
            str(amount.programme or ""),
            f"{amount.part_of.amount_text} ({amount.part_of.get_nature_display().lower()}): not counted again"
            if amount.part_of
            else "",
            amount.period_text,
        )
    organisations = Table(
        "organisations", "Organisations", ["Organisation", "Role"], numeric_from=9, empty="No organisation is named."
    )
    for involvement in commitment.involvements.all():
        organisations.add(Cell(involvement.organisation.name, header=True), involvement.get_role_display())
    governing = rules.governing_update(timeline, day)
    context = {
        "commitment": commitment,
        "updating": markers_pending(),
        "timeline": timeline,
        "state": rules.state_from_update(governing) if governing is not None else None,
        "day": day,
        "as_of": as_of,
        "page": "breakdown",
    }
    return _respond(request, "dashboards/commitment.html", context, [updates, funding, organisations], reference)


def _changes_tables(changes: Changes) -> list[Table]:
    def movements(table_id: str, caption: str, items: list[Any]) -> Table:
        table = Table(table_id, caption, ["Reference", "Commitment", "Before", "After"], numeric_from=9, empty="None.")
        for item in items:
            table.add(
                Cell(
                    item.commitment.reference,
                    href=reverse("dashboards:commitment", args=[item.commitment.reference]),
                    header=True,
                ),
                _short(item.commitment.text),
                item.before_text,
                item.after_text,
            )
        return table

    overdue = Table(
        "newly_overdue",
        "Newly overdue",
        ["Reference", "Commitment", "Target date", "Status"],
        numeric_from=9,
        empty="None.",
    )
    for row in changes.newly_overdue:
        overdue.add(
            Cell(row.reference, href=reverse("dashboards:commitment", args=[row.reference]), header=True),
            _short(row.text),
            row.target_date_text or day_text(row.target_date),
            status_cell(row.state_status),
        )
    updates = Table(
        "new_updates",
        f"New approved updates ({changes.updates_total:,})",
        ["As of", "Reference", "Status", "Confidence", "Narrative"],
        numeric_from=9,
        empty="None.",
    )
    for update in changes.updates:
        updates.add(
            Cell(day_text(update.as_of), header=True),
            Cell(
                update.commitment.reference, href=reverse("dashboards:commitment", args=[update.commitment.reference])
            ),
            status_cell(update.status),
            confidence_cell(update.confidence),
            _short(update.narrative),
        )
    restated = Table(
        "restatements",
        "Restatements of signed-off quarters",
        ["Quarter", "Signed off", "What moved (signed off → now)", "Updates approved after sign-off"],
        numeric_from=9,
        empty="No signed-off quarter has moved.",
    )
    for item in changes.restatements:
        moved = item.figures.changed_fields() if item.figures else []
        restated.add(
            Cell(item.reporting.quarter.label, header=True),
            day_text(item.reporting.locked_at.date() if item.reporting.locked_at else None),
            "; ".join(f"{name.replace('_', ' ')}: {before} → {after}" for name, before, after in moved)
            or "No figure moved",
            "; ".join(f"{u.commitment.reference} as of {day_text(u.as_of)}" for u in item.updates) or "None",
        )
    return [
        movements("improved", "Improved", changes.improved),
        movements("worsened", "Worsened", changes.worsened),
        movements("newly_delivered", "Newly delivered", changes.newly_delivered),
        movements("newly_rated", "Newly rated (a first confidence rating)", changes.newly_rated),
        movements("rating_withdrawn", "Confidence rating withdrawn", changes.rating_withdrawn),
        overdue,
        updates,
        restated,
    ]


def _short(text: str, length: int = 140) -> str:
    return text if len(text) <= length else text[: length - 3].rstrip() + "…"


@dashboard
def changes(request: HttpRequest) -> HttpResponse:
    """What changed between the ends of two quarters."""
    quarters = dashboards.reporting_quarters()
    form = ComparisonForm(request.GET)
    if not form.is_valid():
        raise BadInputError(_errors(form))
    if len(quarters) < 2:
        raise Http404("There are not yet two quarters to compare.")
    as_of: date | None = form.cleaned_data["as_of"]
    until = Quarter.containing(as_of) if as_of else form.cleaned_data["until"] or quarters[-1].quarter
    since = form.cleaned_data["since"] or until.previous()
    for quarter in (since, until):
        if dashboards.quarter_row(quarters, quarter) is None:
            raise Http404(f"The tracker has no figures for {quarter}.")
    if since >= until:
        raise BadInputError({"From the end of": ["Choose a quarter before the one you compare it with."]})
    data = dashboards.changes_between(
        since.end, as_of or until.end, quarters, updates_limit=None if request.GET.get("download") else 200
    )
    context = {
        "changes": data,
        "since": since,
        "until": until,
        "as_of": as_of,
        "since_options": quarter_options(quarters, since),
        "until_options": quarter_options(quarters, until),
        "updating": markers_pending(),
        "page": "changes",
    }
    return _respond(
        request, "dashboards/changes.html", context, _changes_tables(data), f"changes-{since}-{until}".replace(" ", "")
    )


# The money tables' columns: the natures every money total sums, each apart (``AmountNature.totalled``).
MONEY_HEADERS = {
    AmountNature.NEW_MONEY: "New money committed",
    AmountNature.RESTATED: "Restated (not new)",
    AmountNature.TARGET: "Targets (not committed)",
}
TOTAL_LABEL = "Total (as in “Money committed and spent”)"


def _money_cells(figures: Money) -> list[Cell | str | int | None]:
    cells: list[Cell | str | int | None] = []
    for nature in AmountNature.totalled():
        low, high = figures.of(nature)
        open_ended = figures.new_money_open_ended if nature == AmountNature.NEW_MONEY else 0
        cells.append(Cell(money_range(low, high) + (f" ({open_ended} open-ended)" if open_ended else ""), numeric=True))
    return cells


def funder_types_table(rows: list[dashboards.FunderTypeMoney], total: Money) -> Table:
    """Money by the type of its funder, each amount under its own funder's type, and the total row."""
    table = Table(
        "funder_types",
        "Money committed by type of funder",
        ["Type of funder", *(MONEY_HEADERS[nature] for nature in AmountNature.totalled())],
    )
    grouped: dict[str, Money] = {}
    for row in rows:
        kind = str(OrganisationKind(row.funder_kind).label) if row.funder_kind else "Funder not named"
        grouped[kind] = grouped.get(kind, Money()) + row.as_money()
    for kind, figures in sorted(grouped.items()):
        table.add(kind, *_money_cells(figures))
    table.add(TOTAL_LABEL, *_money_cells(total))
    return table


def programmes_money_table(period: Period, figures: MoneyByProgramme) -> Table:
    """Money by the programme each amount is attributed to: a fund's row includes the programmes inside it.

    The top-level programmes and the row of money attributed to no programme add up to the total row;
    a row with a "part of" is inside the row it names, so it is not added again.
    """
    table = Table(
        "programmes",
        "Money by programme (each amount under the programme it is attributed to)",
        ["Programme", "Part of", *(MONEY_HEADERS[nature] for nature in AmountNature.totalled())],
        numeric_from=2,
    )
    names = {item.programme_id: item.name for item in figures.programmes}
    for item in figures.programmes:
        table.add(
            Cell(item.name, href=_scope_url(period, ScopeType.PROGRAMME, item.uuid), header=True),
            Cell(names.get(item.parent_id, "") if item.parent_id else ""),
            *_money_cells(item.total),
        )
    table.add("Not attributed to a programme", "", *_money_cells(figures.not_attributed))
    table.add(TOTAL_LABEL, "", *_money_cells(figures.total))
    return table


@dashboard
def funding(request: HttpRequest) -> HttpResponse:
    """Money committed, by type of funder and by programme; each table has a total row equal to the overview's."""
    quarters = dashboards.reporting_quarters()
    period = _period(request, quarters)
    figures = dashboards.quarter_figures(period, [ScopeType.TRACKER])
    tracker = figures[ScopeType.TRACKER][0] if figures[ScopeType.TRACKER] else None
    total = dashboards.funding_total(period.day)
    by_type = funder_types_table(dashboards.funding_by_funder_type(period.day), total)
    by_programme = programmes_money_table(period, dashboards.funding_by_programme(period.day))
    tables = [money_table(tracker), by_type, by_programme]
    context = _context(request, period, quarters, tracker=tracker, page="funding")
    return _respond(request, "dashboards/funding.html", context, tables, f"funding-{period.day}")


def _board_pack(request: HttpRequest) -> tuple[dict[str, Any], list[Table]]:
    quarters = dashboards.reporting_quarters()
    period = _period(request, quarters)
    data = dashboards.overview_read(period, quarters)
    previous_label = data.previous_quarter.quarter.label if data.previous_quarter else ""
    changes_data = dashboards.changes_between(period.quarter.previous().end, period.day, quarters, updates_limit=0)
    red = dashboards.commitments_on(Commitment.objects.all(), period, confidence=DeliveryConfidence.RED)
    amber_red = dashboards.commitments_on(Commitment.objects.all(), period, confidence=DeliveryConfidence.AMBER_RED)
    change_tables = [t for t in _changes_tables(changes_data) if t.id != "new_updates"]
    past = "" if period.is_current else period_query(period)
    tables = [
        headline_table(data.tracker, data.previous, previous_label),
        money_table(data.tracker),
        foundations_table(period, data.foundations),
        figures_table("actors", "By actor", "Actor", period, data.actors),
        *change_tables,
        commitments_table(red, "red", "Commitments rated red", query=past),
        commitments_table(amber_red, "amber_red", "Commitments rated amber/red", query=past),
    ]
    context = _context(request, period, quarters, overview=data, changes=changes_data, page="board-pack")
    return context, tables


@dashboard
def board_pack(request: HttpRequest) -> HttpResponse:
    """One printable page per quarter: overview, what changed, and the red and amber/red commitments."""
    context, tables = _board_pack(request)
    return _respond(request, "dashboards/board_pack.html", context, tables, f"board-pack-{context['period'].day}")


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
    response["Content-Disposition"] = (
        f'attachment; filename="board-pack-{context["period"].quarter.label.replace(" ", "-")}.pdf"'
    )
    return response

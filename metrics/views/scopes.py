"""A scope's page (its figures over time and its commitments) and a commitment's page."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ObjectDoesNotExist
from django.core.paginator import Paginator
from django.db.models import Prefetch, Q, prefetch_related_objects
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import timezone

from commitments.models import Commitment, Dependency, Milestone
from commitments.periods import Quarter
from metrics import dashboards, rules
from metrics.dashboards import Period, UnknownScopeError
from metrics.forms import CommitmentFilterForm, PeriodForm
from metrics.links import period_query
from metrics.models import ScopeType
from metrics.services import markers_pending
from metrics.table_builders import chart, commitments_table, mean_progress_text
from metrics.tables import Cell, Table, confidence_cell, day_text, money, money_range, percent, status_cell
from metrics.update_cycle import Cycle, CycleState
from metrics.views.common import (
    BadInputError,
    CountedPaginator,
    choice_options,
    dashboard,
    form_errors,
    page_context,
    read_period,
    respond,
)
from programmes.models import AmountNature


@dashboard
def scope_detail(request: HttpRequest, scope_type: str, scope_key: str) -> HttpResponse:
    """One scope: its figures in every quarter, and its commitments, sortable and filterable."""
    quarters = dashboards.reporting_quarters()
    period = read_period(request, quarters)
    try:
        history = dashboards.scope_history(period, scope_type, scope_key)
        commitments = dashboards.scope_commitments(scope_type, scope_key, period.population)
    except UnknownScopeError as error:
        raise Http404("There is no such scope.") from error
    filters = CommitmentFilterForm(request.GET)
    if not filters.is_valid():
        raise BadInputError(form_errors(filters))
    options = filters.cleaned_data
    rows = dashboards.commitments_on(
        commitments,
        period,
        status=options["status"],
        confidence=options["confidence"],
        overdue=options["overdue"],
        stale=options["stale"],
        progress=options["progress"],
        sort=options["sort"],
        descending=options["order"] == "desc",
    )
    downloading = bool(request.GET.get("download"))
    updating = markers_pending()
    # Unfiltered, the list is as long as the stored figures' count, unless those are waiting to be updated.
    known = None if updating or _filtered(options) else history.stored_count(period)
    paginator = (
        Paginator(rows, settings.DASHBOARD_PAGE_SIZE)
        if known is None
        else CountedPaginator(rows, settings.DASHBOARD_PAGE_SIZE, count=known)
    )
    page = paginator.get_page(options["page"] or 1) if not downloading else None
    listed = rows if downloading else page.object_list  # type: ignore[union-attr]

    series = [(quarter.quarter.label, item) for quarter, item in history.points]
    if history.as_of_point is not None:
        as_of = day_text(period.as_of)
        series.append(
            (
                f"{period.quarter.label} so far ({as_of})" if period.in_progress else f"As of {as_of}",
                history.as_of_point,
            )
        )
    over_time = Table(
        "over_time",
        f"{history.label}: figures by quarter",
        [
            "Quarter",
            "Commitments",
            "Delivered",
            "Share delivered (of commitments)",
            "On track",
            "Amber",
            "At risk",
            "Not rated",
            "Overdue",
            "No update this quarter",
            "Reporting progress",
            "Mean progress (of those reporting)",
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
            item.progress_reported,
            Cell(mean_progress_text(item), numeric=True),
            Cell(money_range(item.new_money_low, item.new_money_high), numeric=True),
            Cell(money(item.spent), numeric=True),
        )
    listing = commitments_table(
        listed,
        "commitments",
        f"{period.population_label.capitalize()} of {history.label} on {day_text(period.day)}",
        query="" if period.is_current else period_query(period),
    )
    base_filters = {key: request.GET.get(key, "") for key in ("status", "confidence", "progress", "overdue", "stale")}
    sort_links = _sort_links(period, base_filters, options["sort"], options["order"])
    listing.sort_links = {
        column: (sort_links[key]["href"] + "#commitments", sort_links[key]["aria_sort"])
        for column, key in SORT_COLUMNS.items()
    }
    charts = [
        chart(
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
    context = page_context(
        request,
        period,
        quarters,
        updating=updating,
        history=history,
        filters=filters,
        page_obj=page,
        charts=charts,
        filter_options={
            name: choice_options(filters, name) for name in ("status", "confidence", "progress", "sort", "order")
        },
        sort_links=sort_links,
        back=_back_link(period, scope_type),
        page_query=period_query(period, **base_filters, sort=options["sort"], order=options["order"]),
        scope_name=ScopeType(scope_type).label if scope_type in ScopeType.values else scope_type,
        page="breakdown",
    )
    return respond(request, "dashboards/scope.html", context, [over_time, listing], f"{scope_type}-{scope_key}")


SORT_COLUMNS = {0: "reference", 2: "status", 3: "confidence", 4: "progress", 5: "target", 6: "updated"}
# The list's filters (``CommitmentFilterForm``); sorting and paging keep every commitment.
LIST_FILTERS = ("status", "confidence", "overdue", "stale", "progress")


def _filtered(options: dict[str, object]) -> bool:
    return any(options[name] for name in LIST_FILTERS)


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


@dataclass(frozen=True)
class MilestoneRow:
    """A milestone as the commitment page shows it: overdue on the page's day by ``rules.is_milestone_overdue``."""

    title: str
    due_on: date
    done_on: date | None
    overdue: bool


def _owning_team(owner: Any) -> str:
    """The owner's team (``StaffProfile.team``), or "" when there is no owner, profile or team."""
    if owner is None:
        return ""
    try:
        return str(owner.staff_profile.team)
    except ObjectDoesNotExist:
        return ""


def _update_status(commitment: Commitment, today: date) -> str:
    """The quarter's update from the commitment, as the update cycle reads it: due by, overdue since, or done."""
    cycle = Cycle.on(today)
    owed: Any = cycle.owing(Commitment.objects.filter(pk=commitment.pk))  # annotated: the plugin cannot see it
    owing = owed.values_list("update_done", flat=True).first()
    label = cycle.quarter.label
    if owing is None:
        return f"No update owed for {label}"
    state = cycle.state(done=bool(owing), today=today)
    if state == CycleState.DONE:
        return f"{label} update done"
    if state == CycleState.OVERDUE:
        return f"{label} update overdue since {day_text(cycle.due_on + timedelta(days=1))}"
    return f"{label} update due by {day_text(cycle.due_on)}"


def _delivery_plan(commitment: Commitment, day: date) -> dict[str, Any]:
    """The commitment's owner, milestones and dependencies both ways: three queries at most, whatever their number."""
    owner = (
        get_user_model().objects.select_related("staff_profile").filter(pk=commitment.owner_id).first()
        if commitment.owner_id is not None
        else None
    )
    prefetch_related_objects([commitment], Prefetch("milestones", queryset=Milestone.objects.order_by("due_on", "pk")))
    # Both directions in one query.
    links = list(
        Dependency.objects.filter(Q(commitment=commitment) | Q(depends_on=commitment))
        .select_related("commitment", "depends_on")
        .order_by("commitment__reference", "depends_on__reference")
    )
    return {
        "owner_name": (owner.get_full_name() or owner.get_username()) if owner is not None else "",
        "owning_team": _owning_team(owner),
        "milestones": [
            MilestoneRow(
                milestone.title,
                milestone.due_on,
                milestone.done_on,
                rules.is_milestone_overdue(due_on=milestone.due_on, done_on=milestone.done_on, day=day),
            )
            for milestone in commitment.milestones.all()
        ],
        "depends_on": sorted(
            (link for link in links if link.commitment_id == commitment.pk), key=lambda link: link.depends_on.reference
        ),
        "needed_by": [link for link in links if link.depends_on_id == commitment.pk],
    }


@dashboard
def commitment_detail(request: HttpRequest, reference: str) -> HttpResponse:
    """One commitment as printed, with its organisations, money, links and approved updates.

    With ``as_of`` (or a past ``quarter``), the state and timeline are as they stood on that day.
    """
    form = PeriodForm(request.GET)
    if not form.is_valid():
        raise BadInputError(form_errors(form), form)
    quarter: Quarter | None = form.cleaned_data["quarter"]
    as_of: date | None = form.cleaned_data["as_of"]
    # A quarter in progress shows the commitment as it stands now: its last day is still to come.
    day = as_of or (quarter.end if quarter is not None and quarter.is_over() else None)
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
        "update_status": _update_status(commitment, timezone.localdate()),
        **_delivery_plan(commitment, day or timezone.localdate()),
    }
    return respond(request, "dashboards/commitment.html", context, [updates, funding, organisations], reference)

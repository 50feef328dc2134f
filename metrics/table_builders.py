"""Tables and charts of the board dashboards, built from the figures ``metrics.dashboards`` reads.

Each builder returns a ``metrics.tables.Table`` (or a chart's data): plain text and links that the
templates render and ``?download=<id>`` returns as CSV.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.urls import reverse

from commitments.delivery import DeliveryConfidence, DeliveryStatus
from commitments.models import OrganisationKind
from metrics.dashboards import Changes, Period, ScopeFigures
from metrics.glossary import MEASURE_MEANINGS
from metrics.links import scope_url
from metrics.models import ScopeType
from metrics.tables import (
    Cell,
    Table,
    as_text,
    confidence_cell,
    day_text,
    money,
    money_range,
    percent,
    status_cell,
)
from programmes.models import AmountNature
from programmes.totals import JOINTLY, Money, MoneyByProgramme

CONFIDENCE_SERIES = [*DeliveryConfidence.values, "no_confidence"]


# Every percentage names what it is a share of: share delivered of the commitments counted, mean progress of
# those reporting a progress figure (``metrics.rules.mean_progress``), whose count is the column before it.
FIGURE_HEADERS = [
    "Commitments",
    "Delivered",
    "Share delivered (of commitments)",
    "On track (green, amber/green)",
    "Amber",
    "At risk (amber/red, red)",
    "Not rated",
    "Overdue",
    "No update this quarter",
    "Reporting progress",
    "Mean progress (of those reporting)",
]

# Each count of a scope's figures, with the filter of the scope's list that shows the commitments behind it
# (``metrics.forms.CommitmentFilterForm``, read by ``metrics.dashboards.commitments_on``).
COUNT_FILTERS: dict[str, dict[str, str]] = {
    "commitments": {},
    "delivered": {"status": DeliveryStatus.DELIVERED},
    "in_progress": {"status": DeliveryStatus.IN_PROGRESS},
    "not_started": {"status": DeliveryStatus.NOT_STARTED},
    "not_being_pursued": {"status": DeliveryStatus.NOT_BEING_PURSUED},
    "on_track": {"confidence": "on_track"},
    "amber": {"confidence": DeliveryConfidence.AMBER},
    "at_risk": {"confidence": "at_risk"},
    "no_confidence": {"confidence": "none"},
    "overdue": {"overdue": "on"},
    "stale": {"stale": "on"},
    "progress_reported": {"progress": "reported"},
}


def count_cell(period: Period, item: ScopeFigures, measure: str) -> Cell:
    """A count of a scope's figures, linking to the scope's list of the commitments it counts."""
    filters = COUNT_FILTERS[measure]
    href = scope_url(period, item.scope_type, item.scope_key, **filters) + ("" if filters else "#commitments")
    return Cell(f"{getattr(item, measure):,}", href=href, numeric=True)


def mean_progress_text(item: ScopeFigures) -> str:
    """Mean progress as a percentage, or n/a where no commitment reports a figure."""
    mean = item.mean_progress
    return "n/a" if mean is None else f"{mean:.0f}%"


def _figure_cells(period: Period, item: ScopeFigures) -> list[Cell | str | int | None]:
    def count(measure: str) -> Cell:
        return count_cell(period, item, measure)

    return [
        count("commitments"),
        count("delivered"),
        Cell(percent(item.share_delivered), numeric=True),
        count("on_track"),
        count("amber"),
        count("at_risk"),
        count("no_confidence"),
        count("overdue"),
        count("stale"),
        count("progress_reported"),
        Cell(mean_progress_text(item), numeric=True),
    ]


def _label_cell(period: Period, item: ScopeFigures, *, indent: bool = False) -> Cell:
    label = str(item.scope_label)
    if item.restated:
        label += " (restated since sign-off)"
    if item.live_in_signed_off:
        label += " (live: no signed-off figures for it)"
    return Cell(
        label, href=scope_url(period, item.scope_type, item.scope_key), header=True, hint="area" if indent else ""
    )


def figures_table(table_id: str, caption: str, first: str, period: Period, items: list[ScopeFigures]) -> Table:
    """One row of figures per scope, each linking to the scope's page."""
    table = Table(table_id, caption, [first, *FIGURE_HEADERS], empty="No figures for this period yet.")
    for item in items:
        table.add(_label_cell(period, item), *_figure_cells(period, item))
    return table


def foundations_table(period: Period, foundations: list[tuple[ScopeFigures, list[ScopeFigures]]]) -> Table:
    """Foundations, each followed by its areas."""
    table = Table(
        "foundations", "By foundation and area", ["Foundation or area", *FIGURE_HEADERS], empty="No figures yet."
    )
    for foundation, areas in foundations:
        table.add(_label_cell(period, foundation), *_figure_cells(period, foundation))
        for area in areas:
            table.add(_label_cell(period, area, indent=True), *_figure_cells(period, area))
    return table


HEADLINE_MEASURES: list[tuple[str, str]] = [
    ("Commitments", "commitments"),
    ("Delivered", "delivered"),
    ("In progress", "in_progress"),
    ("Not started", "not_started"),
    ("Not being pursued", "not_being_pursued"),
    ("On track (green or amber/green)", "on_track"),
    ("Amber", "amber"),
    ("At risk (amber/red or red)", "at_risk"),
    ("Not rated (no confidence rating)", "no_confidence"),
    ("Overdue", "overdue"),
    ("No approved update this quarter (stale)", "stale"),
    ("Reporting a progress figure", "progress_reported"),
]


def headline_table(
    tracker: ScopeFigures | None,
    previous: ScopeFigures | None,
    previous_label: str,
    period_label: str = "",
    *,
    period: Period | None = None,
    previous_period: Period | None = None,
) -> Table:
    """The headline figures beside the previous quarter's, with the movement; columns named by their period.

    With ``period`` (and ``previous_period``), each count links to the list of the commitments behind it.
    Each percentage says what it is a share of.
    """
    counted = f": {period.population_label}" if period is not None else ""
    table = Table(
        "headline",
        f"Headline figures and movement since the previous quarter{counted}",
        ["Measure", period_label or "This period", previous_label or "Previous quarter", "Change"],
    )
    if tracker is None:
        return table

    def cell(figures: ScopeFigures | None, at: Period | None, measure: str) -> Cell | int | None:
        if figures is None:
            return None
        return count_cell(at, figures, measure) if at is not None else getattr(figures, measure)

    for label, measure in HEADLINE_MEASURES:
        now = getattr(tracker, measure)
        before = getattr(previous, measure) if previous is not None else None
        change = "" if before is None else f"{now - before:+,}"
        table.add(
            label, cell(tracker, period, measure), cell(previous, previous_period, measure), Cell(change, numeric=True)
        )
    table.add(
        "Share delivered (of all commitments counted)",
        Cell(percent(tracker.share_delivered), numeric=True),
        Cell(percent(previous.share_delivered) if previous else "", numeric=True),
        Cell("", numeric=True),
    )

    def mean(figures: ScopeFigures) -> str:
        return f"{mean_progress_text(figures)} ({figures.progress_reported:,} of {figures.commitments:,})"

    table.add(
        "Mean progress (of those reporting a progress figure, of all counted)",
        Cell(mean(tracker), numeric=True),
        Cell(mean(previous) if previous else "", numeric=True),
        Cell("", numeric=True),
    )
    return table


def movement_table(tracker: ScopeFigures | None, changes_url: str = "") -> Table:
    """Commitments whose state moved since the previous quarter's end.

    With ``changes_url`` (the "what changed" page over the same quarters), each count links to its list there.
    """
    table = Table("movement", "Movement since the previous quarter's end", ["Movement", "Commitments"])
    if tracker is not None:
        for label, name in (
            ("Improved (status forward, or confidence towards green between two ratings)", "improved"),
            ("Worsened", "worsened"),
            ("Status changed", "status_changed"),
            ("Newly delivered", "newly_delivered"),
            ("Newly rated (no confidence rating before)", "newly_rated"),
            ("Rating withdrawn (rated before, not now)", "rating_withdrawn"),
        ):
            count = getattr(tracker, name)
            if count is None:
                table.add(label, NOT_RECORDED)
            else:
                table.add(
                    label, Cell(f"{count:,}", href=f"{changes_url}#table-{name}" if changes_url else "", numeric=True)
                )
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


#: A bar chart of more categories than this shows the largest of them, most first, and one bar adding up the
#: others: with more, the bars are too thin to read and most labels are dropped. The table beside it lists all.
CHART_TOP = 10


def top_and_others(
    labels: list[str], series: list[dict[str, Any]], limit: int = CHART_TOP
) -> tuple[list[str], list[dict[str, Any]], int]:
    """The ``limit`` categories with the largest totals (all series added), most first, then "Others (n)".

    Returns the labels, the series with their data cut the same way, and how many categories "Others" adds up
    (0 when there are ``limit`` or fewer, which keep the order they were given in). Ties keep that order too.
    """
    if len(labels) <= limit:
        return labels, series, 0
    totals = [sum(item["data"][index] or 0 for item in series) for index in range(len(labels))]
    order = sorted(range(len(labels)), key=lambda index: -totals[index])
    kept, rest = order[:limit], order[limit:]
    cut = [
        {**item, "data": [item["data"][index] for index in kept] + [sum(item["data"][index] or 0 for index in rest)]}
        for item in series
    ]
    return [labels[index] for index in kept] + [f"Others ({len(rest)})"], cut, len(rest)


def chart(
    chart_id: str, title: str, labels: list[str], series: list[dict[str, Any]], kind: str = "bar"
) -> dict[str, Any]:
    """A chart's data: labels along the axis and one series per measure (``dashboards/_chart.html``, the pack).

    Every bar chart of more than ``CHART_TOP`` categories keeps the largest and adds up the rest
    (``top_and_others``); ``others`` says how many that bar holds, ``shown`` how many are shown apart.
    """
    others = 0
    if kind == "bar":
        labels, series, others = top_and_others(labels, series)
    return {
        "id": chart_id,
        "title": title,
        "kind": kind,
        "labels": labels,
        "series": series,
        "others": others,
        "shown": len(labels) - 1 if others else len(labels),
    }


def confidence_chart(chart_id: str, title: str, items: list[ScopeFigures]) -> dict[str, Any]:
    """Stacked bars of confidence ratings per scope."""
    # Not rated is a category of its own, named with its count like every rating (never told by grey alone).
    names = dict(DeliveryConfidence.choices) | {"no_confidence": "Not rated"}
    series = []
    for name in CONFIDENCE_SERIES:
        data = [getattr(item, name) for item in items]
        series.append({"key": name, "label": f"{names[name]} ({sum(data):,})", "data": data})
    return chart(chart_id, title, [str(item.scope_label) for item in items], series)


STATUS_SERIES = [
    DeliveryStatus.DELIVERED,
    DeliveryStatus.IN_PROGRESS,
    DeliveryStatus.NOT_STARTED,
    DeliveryStatus.NOT_BEING_PURSUED,
]


def status_chart(chart_id: str, title: str, items: list[ScopeFigures]) -> dict[str, Any]:
    """Stacked bars of delivery status per scope, delivered first."""
    return chart(
        chart_id,
        title,
        [str(item.scope_label) for item in items],
        [
            {
                "key": str(value),
                "label": str(DeliveryStatus(value).label),
                "data": [getattr(item, value) for item in items],
            }
            for value in STATUS_SERIES
        ],
    )


def measure_chart(chart_id: str, title: str, items: list[ScopeFigures], measure: str) -> dict[str, Any]:
    """One measure per scope (``overdue``, ``stale``...), named as the glossary names it."""
    label = MEASURE_MEANINGS[measure][0] if measure in MEASURE_MEANINGS else measure
    return chart(
        chart_id,
        title,
        [str(item.scope_label) for item in items],
        [{"key": measure, "label": label, "data": [getattr(item, measure) for item in items]}],
    )


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


def changes_tables(changes: Changes) -> list[Table]:
    """The tables of what changed: the movements, newly overdue, new updates and restatements."""

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
            restated_text(moved) or "No figure moved",
            "; ".join(f"{u.commitment.reference} as of {day_text(u.as_of)}" for u in item.updates) or "None",
        )
    return [
        movements("improved", "Improved", changes.improved),
        movements("worsened", "Worsened", changes.worsened),
        movements("status_changed", "Status changed", changes.status_changed),
        movements("newly_delivered", "Newly delivered", changes.newly_delivered),
        movements("newly_rated", "Newly rated (a first confidence rating)", changes.newly_rated),
        movements("rating_withdrawn", "Confidence rating withdrawn", changes.rating_withdrawn),
        overdue,
        updates,
        restated,
    ]


def restated_text(moved: list[tuple[str, Any, Any]]) -> str:
    """What a restatement moved, in words: "Confidence: Amber/Red 0 → 1, Not rated 71 → 70; Spent: £0.0m → £12.0m".

    ``moved`` is ``ScopeFigures.changed_fields()``: each figure by its name, signed off and now. Figures are
    named as the glossary names them (``metrics.glossary.MEASURE_MEANINGS``), the counts of each status and
    each rating under "Status" and "Confidence"; money is shown as every page shows it (``metrics.tables.money``).
    """
    ratings = {*DeliveryConfidence.values, "no_confidence"}
    groups: dict[str, list[str]] = {}
    for name, before, after in moved:
        label = MEASURE_MEANINGS[name][0] if name in MEASURE_MEANINGS else name.replace("_", " ").capitalize()
        change = f"{as_text(before)} → {as_text(after)}"
        if name in DeliveryStatus.values:
            groups.setdefault("Status", []).append(f"{label} {change}")
        elif name in ratings:
            groups.setdefault("Confidence", []).append(f"{label} {change}")
        else:
            groups[label] = [change]
    return "; ".join(f"{group}: {', '.join(changes)}" for group, changes in groups.items())


def _short(text: str, length: int = 140) -> str:
    return text if len(text) <= length else text[: length - 3].rstrip() + "…"


MONEY_HEADERS = {
    AmountNature.NEW_MONEY: "New money committed",
    AmountNature.RESTATED: "Restated (not new)",
    AmountNature.TARGET: "Targets (not committed)",
}
TOTAL_LABEL = "Total (as in “Money committed and spent”)"
#: A figure a quarter's sign-off did not record (it was signed off before the figure was kept).
NOT_RECORDED = "not recorded at sign-off"


def _money_cells(figures: Money) -> list[Cell | str | int | None]:
    cells: list[Cell | str | int | None] = []
    for nature in AmountNature.totalled():
        low, high = figures.of(nature)
        open_ended = figures.new_money_open_ended if nature == AmountNature.NEW_MONEY else 0
        cells.append(Cell(money_range(low, high) + (f" ({open_ended} open-ended)" if open_ended else ""), numeric=True))
    return cells


FUNDER_NOT_NAMED = "Funder not named"
# Amounts the text gives several funders for, without each one's share: under none of their types alone.
SEVERAL_FUNDERS = "Several funders jointly (no share of each given)"


def funder_types_table(rows: Mapping[str, Money], total: Money) -> Table:
    """Money by the type of its funder, each amount under its own funder's type, and the total row."""
    table = Table(
        "funder_types",
        "Money committed by type of funder",
        ["Type of funder", *(MONEY_HEADERS[nature] for nature in AmountNature.totalled())],
    )
    labels = {JOINTLY: SEVERAL_FUNDERS, "": FUNDER_NOT_NAMED}
    named = sorted((str(OrganisationKind(kind).label), figures) for kind, figures in rows.items() if kind not in labels)
    apart = [(labels[kind], rows[kind]) for kind in (JOINTLY, "") if kind in rows]
    for label, figures in [*named, *apart]:
        table.add(label, *_money_cells(figures))
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
            Cell(item.name, href=scope_url(period, ScopeType.PROGRAMME, item.uuid), header=True),
            Cell(names.get(item.parent_id, "") if item.parent_id else ""),
            *_money_cells(item.total),
        )
    table.add("Not attributed to a programme", "", *_money_cells(figures.not_attributed))
    table.add(TOTAL_LABEL, "", *_money_cells(figures.total))
    return table

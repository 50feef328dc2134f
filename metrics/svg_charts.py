"""Charts drawn on the server as SVG, for the board pack's page and its PDF, where no script runs.

The pages' charts are drawn in the browser (``dashboards/charts.js``) from the data ``table_builders.chart``
builds; the board pack draws the same data here, as horizontal bars. This module only works out the
geometry (where each bar, segment, tick and legend entry goes, in numbers and plain text);
``templates/dashboards/_svg_chart.html`` writes the SVG, so every label is escaped by the template and no
markup is built in Python. A long list of categories is sorted and cut to the top few, the rest summed
as "others", so that a printed chart stays readable.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

# The GOV.UK palette, as in dashboards/charts.js; statuses as their tags colour them (metrics.tables).
COLOURS: dict[str, str] = {
    "green": "#00703c",
    "amber_green": "#85994b",
    "amber": "#ffdd00",
    "amber_red": "#f47738",
    "red": "#d4351c",
    "no_confidence": "#b1b4b6",
    "delivered": "#00703c",
    "in_progress": "#1d70b8",
    "not_started": "#b1b4b6",
    "not_being_pursued": "#4c2c92",
    "overdue": "#4c2c92",
    "stale": "#505a5f",
}
OTHER_COLOUR = "#505a5f"
# A rating is never told by colour alone: the amber and red ones also carry a pattern, as on the pages.
PATTERNS: dict[str, str] = {"amber": "dots", "amber_red": "stripes", "red": "cross"}

FONT_SIZE = 11  # px, as the SVG is drawn: about 8pt once scaled to the printed page
CHAR_WIDTH = 6.6  # a generous mean width of a character at FONT_SIZE (DejaVu Sans), for the labels' room
BAR_HEIGHT = 18
BAR_GAP = 8
TOP_MARGIN = 6
AXIS_ROOM = 24  # below the bars: the tick labels
LEGEND_ROW = 18
SWATCH = 12


@dataclass(frozen=True)
class Segment:
    """One series' part of a bar, and its value's label where it fits."""

    key: str
    series: str
    value: int
    x: float
    width: float
    colour: str
    pattern: str
    show_value: bool
    value_x: float  # the middle of the segment
    value_box_x: float  # the white box behind the value, so it reads on any colour or pattern
    value_box_width: float


@dataclass(frozen=True)
class Bar:
    """One category: its label (shortened to fit, the full one kept for its title), segments and total."""

    label: str
    full_label: str
    y: float
    height: float
    text_y: float
    value_box_y: float
    total: int
    total_x: float
    segments: list[Segment]


@dataclass(frozen=True)
class Tick:
    """A value on the axis, and where it is."""

    value: int
    x: float


@dataclass(frozen=True)
class LegendItem:
    """A series in the legend: its swatch (colour and pattern) and name."""

    key: str
    label: str
    colour: str
    pattern: str
    x: float
    y: float
    text_x: float
    text_y: float


@dataclass
class SvgChart:
    """Everything ``dashboards/_svg_chart.html`` draws, in the SVG's own units (px)."""

    id: str
    title: str
    description: str
    width: int
    height: float
    plot_left: float
    plot_width: float
    axis_y: float
    label_x: float  # the labels' right edge
    tick_label_y: float
    bars: list[Bar]
    ticks: list[Tick]
    legend: list[LegendItem]
    patterns: list[LegendItem] = field(default_factory=list)  # the patterned series, for the SVG's defs
    others: int = 0  # categories summed into the last bar, "others"
    single: bool = False  # one series: no legend
    empty: str = ""  # what to say instead of a chart with no bars


def top_with_others(
    labels: list[str], series: list[dict[str, Any]], top: int, others_label: str = "Others"
) -> tuple[list[str], list[dict[str, Any]], int]:
    """The ``top`` categories with the largest totals, largest first, and one more summing the rest.

    Ties keep the categories' order. Returns the labels, the series cut alike, and how many were summed.
    """
    totals = [sum(item["data"][index] or 0 for item in series) for index in range(len(labels))]
    order = sorted(range(len(labels)), key=lambda index: (-totals[index], index))
    kept, rest = order[:top], order[top:]
    if len(rest) == 1:  # "others" of one is that one: show it
        kept, rest = order, []
    cut_labels = [labels[index] for index in kept]
    cut_series = [{**item, "data": [item["data"][index] for index in kept]} for item in series]
    if rest:
        cut_labels.append(f"{others_label} ({len(rest)})")
        for item, cut in zip(series, cut_series, strict=True):
            cut["data"].append(sum(item["data"][index] or 0 for index in rest))
    return cut_labels, cut_series, len(rest)


def nice_ceiling(value: int) -> int:
    """The axis's end: the smallest of 1, 2, 2.5 or 5 times a power of ten at or above ``value`` (at least 1)."""
    if value <= 1:
        return 1
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * power:
            return max(math.ceil(step * power), value)
    return value  # not reached: 10 * power is always at or above value


def _ticks(maximum: int) -> list[int]:
    """Four or five round values from 0 to ``maximum`` (a ``nice_ceiling``)."""
    for count in (4, 5, 2, 1):
        if maximum % count == 0:
            step = maximum // count
            return [step * index for index in range(count + 1)]
    return [0, maximum]


def _shorten(label: str, room: float) -> str:
    most = max(int(room / CHAR_WIDTH), 4)
    return label if len(label) <= most else label[: most - 1].rstrip() + "…"


def horizontal_bars(
    chart: dict[str, Any],
    *,
    top: int | None = None,
    sort: bool = False,
    width: int = 760,
    label_width: int = 260,
    description: str = "",
    others_label: str = "Others",
    omit_empty: bool = False,
    empty: str = "Nothing to show.",
) -> SvgChart:
    """Lay out ``chart`` (``table_builders.chart``'s data) as horizontal bars, stacked when it has several series.

    With ``top``, more categories than that are sorted by their totals and cut to the ``top`` largest and
    "others" (``top_with_others``); ``sort`` sorts them largest first even when they are few. ``omit_empty``
    leaves out the categories whose total is 0 (the description should say so); with none left the chart
    is ``empty``'s sentence instead.
    """
    labels: list[str] = list(chart["labels"])
    series: list[dict[str, Any]] = list(chart["series"])
    if omit_empty:
        kept = [index for index in range(len(labels)) if any(item["data"][index] for item in series)]
        labels = [labels[index] for index in kept]
        series = [{**item, "data": [item["data"][index] for index in kept]} for item in series]
    others = 0
    if top is not None and len(labels) > top:
        labels, series, others = top_with_others(labels, series, top, others_label)
    elif sort:
        labels, series, others = top_with_others(labels, series, len(labels), others_label)
    totals = [sum(item["data"][index] or 0 for item in series) for index in range(len(labels))]
    maximum = nice_ceiling(max(totals, default=0))
    plot_left = float(label_width)
    total_room = 7 * CHAR_WIDTH  # the total at the end of the longest bar
    plot_width = width - plot_left - total_room
    scale = plot_width / maximum
    bars = []
    for index, label in enumerate(labels):
        y = TOP_MARGIN + index * (BAR_HEIGHT + BAR_GAP)
        x = plot_left
        segments = []
        for item in series:
            value = int(item["data"][index] or 0)
            if not value:
                continue
            segment_width = value * scale
            text = f"{value:,}"
            box = len(text) * CHAR_WIDTH + 6
            is_other = others and index == len(labels) - 1 and len(series) == 1
            colour = OTHER_COLOUR if is_other else COLOURS.get(item["key"], OTHER_COLOUR)
            segments.append(
                Segment(
                    key=item["key"],
                    series=item["label"],
                    value=value,
                    x=round(x, 2),
                    width=round(segment_width, 2),
                    colour=colour,
                    pattern=PATTERNS.get(item["key"], ""),
                    show_value=len(series) > 1 and segment_width >= box + 4,
                    value_x=round(x + segment_width / 2, 2),
                    value_box_x=round(x + segment_width / 2 - box / 2, 2),
                    value_box_width=round(box, 2),
                )
            )
            x += segment_width
        bars.append(
            Bar(
                label=_shorten(label, label_width - 8),
                full_label=label,
                y=y,
                height=BAR_HEIGHT,
                text_y=round(y + BAR_HEIGHT / 2 + FONT_SIZE * 0.35, 2),
                value_box_y=y + 3,
                total=totals[index],
                total_x=round(x + 4, 2),
                segments=segments,
            )
        )
    axis_y = TOP_MARGIN + len(labels) * (BAR_HEIGHT + BAR_GAP) - BAR_GAP / 2
    ticks = [Tick(value, round(plot_left + value * scale, 2)) for value in _ticks(maximum)]
    legend = _legend(series, width, axis_y + AXIS_ROOM) if len(series) > 1 else []
    height = (legend[-1].y + LEGEND_ROW) if legend else axis_y + AXIS_ROOM
    return SvgChart(
        id=chart["id"],
        title=chart["title"],
        description=description,
        width=width,
        height=height,
        plot_left=plot_left,
        plot_width=round(plot_width, 2),
        axis_y=axis_y,
        label_x=plot_left - 8,
        tick_label_y=axis_y + 14,
        bars=bars,
        ticks=ticks,
        legend=legend,
        patterns=[item for item in legend if item.pattern],
        others=others,
        single=len(series) == 1,
        empty="" if bars else empty,
    )


def _legend(series: list[dict[str, Any]], width: int, top: float) -> list[LegendItem]:
    items, x, y = [], 0.0, top + 4
    for item in series:
        room = SWATCH + 6 + len(item["label"]) * CHAR_WIDTH + 18
        if x and x + room > width:
            x, y = 0.0, y + LEGEND_ROW
        items.append(
            LegendItem(
                key=item["key"],
                label=item["label"],
                colour=COLOURS.get(item["key"], OTHER_COLOUR),
                pattern=PATTERNS.get(item["key"], ""),
                x=x,
                y=y,
                text_x=x + SWATCH + 6,
                text_y=y + SWATCH - 2,
            )
        )
        x += room
    return items

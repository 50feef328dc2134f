"""Charts drawn on the server as SVG, for the board pack's page and its PDF, where no script runs.

The pages' charts are drawn in the browser (``dashboards/charts.js``) from the data ``table_builders.chart``
builds; the board pack draws the same data here, as horizontal bars. This module only works out the
geometry (where each bar, segment, tick and legend entry goes, in numbers and plain text);
``templates/dashboards/_svg_chart.html`` writes the SVG, so every label is escaped by the template and no
markup is built in Python. A long list of categories comes cut to the largest few and "others"
(``table_builders.chart``), so that a printed chart stays readable.
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
BAR_GAP = 10  # room for a label on two lines
LINE_HEIGHT = 12
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
class LabelLine:
    """A line of a category's label, and where it goes."""

    text: str
    y: float


@dataclass(frozen=True)
class Bar:
    """One category: its label on up to two lines (the full one kept for its title), segments and total."""

    lines: list[LabelLine]
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


# Round steps an axis may end on or be marked in, times a power of ten.
NICE_STEPS = (1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10)
TICK_STEPS = (1, 2, 2.5, 5)


def nice_ceiling(value: int) -> int:
    """The axis's end: the smallest round value (``NICE_STEPS``) at or above ``value``, at least 1."""
    if value <= 1:
        return 1
    power = 10 ** math.floor(math.log10(value))
    return next(math.ceil(step * power) for step in NICE_STEPS if value <= step * power)


def _is_tick_step(step: float) -> bool:
    power = 10 ** math.floor(math.log10(step))
    return any(math.isclose(step, nice * power) for nice in TICK_STEPS)


def _ticks(maximum: int) -> list[int]:
    """Round values from 0 to ``maximum`` (a ``nice_ceiling``): four to six steps if a round step allows."""
    for count in (5, 4, 6, 3, 2, 1):
        if maximum % count == 0 and _is_tick_step(maximum // count):
            step = maximum // count
            return [step * index for index in range(count + 1)]
    return [0, maximum]


def label_lines(label: str, room: float, most_lines: int = 2) -> list[str]:
    """``label`` broken between words into lines that fit ``room`` (px); the last shortened with "…" if need be."""
    most = max(int(room / CHAR_WIDTH), 4)
    lines: list[str] = []
    rest = label.strip()
    while rest and len(lines) < most_lines - 1 and len(rest) > most:
        cut = rest.rfind(" ", 0, most + 1)
        if cut <= 0:
            break
        lines.append(rest[:cut])
        rest = rest[cut + 1 :].lstrip()
    lines.append(rest if len(rest) <= most else rest[: most - 1].rstrip() + "…")
    return lines


def horizontal_bars(
    chart: dict[str, Any],
    *,
    width: int = 760,
    label_width: int = 260,
    description: str = "",
    empty: str = "Nothing to show.",
) -> SvgChart:
    """Lay out ``chart`` (``table_builders.chart``'s data) as horizontal bars, stacked when it has several series.

    The categories come as the chart's data gives them: a long list already cut to the largest and "others"
    (``table_builders.chart``), whose last bar is then drawn grey. With no category, the chart is ``empty``'s
    sentence instead.
    """
    labels: list[str] = list(chart["labels"])
    series: list[dict[str, Any]] = list(chart["series"])
    others = int(chart.get("others") or 0)
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
            is_other = bool(others) and index == len(labels) - 1 and len(series) == 1
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
        text_y = y + BAR_HEIGHT / 2 + FONT_SIZE * 0.35
        wrapped = label_lines(label, label_width - 8)
        first = text_y - (len(wrapped) - 1) * LINE_HEIGHT / 2
        bars.append(
            Bar(
                lines=[LabelLine(line, round(first + number * LINE_HEIGHT, 2)) for number, line in enumerate(wrapped)],
                full_label=label,
                y=y,
                height=BAR_HEIGHT,
                text_y=round(text_y, 2),
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

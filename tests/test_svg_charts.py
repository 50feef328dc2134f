"""The board pack's server-drawn charts: the layout (metrics.svg_charts) and the SVG its template writes."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from django.template.loader import render_to_string

from metrics.svg_charts import horizontal_bars, label_lines, nice_ceiling
from metrics.table_builders import chart

SVG = "{http://www.w3.org/2000/svg}"


def _stacked(labels: list[str], *series: tuple[str, list[int]]) -> dict:
    return chart(
        "test", "A test chart", labels, [{"key": key, "label": key.title(), "data": data} for key, data in series]
    )


def test_the_axis_ends_on_a_round_value_at_or_above_the_largest_and_is_marked_in_round_steps():
    values = (0, 1, 3, 7, 10, 23, 27, 51, 175, 1001)
    assert [nice_ceiling(value) for value in values] == [1, 1, 3, 8, 10, 25, 30, 60, 200, 1500]
    marks = {
        value: [tick.value for tick in horizontal_bars(_stacked(["a"], ("green", [value]))).ticks]
        for value in (27, 51, 7)
    }
    assert marks == {27: [0, 5, 10, 15, 20, 25, 30], 51: [0, 10, 20, 30, 40, 50, 60], 7: [0, 2, 4, 6, 8]}


def test_stacked_bars_fit_the_chart_and_scale_alike():
    layout = horizontal_bars(
        _stacked(
            ["Ideas", "People", "A very long area name that cannot fit in the room the labels have"],
            ("green", [3, 0, 1]),
            ("red", [2, 4, 0]),
        ),
        width=500,
        label_width=150,
    )
    assert [bar.total for bar in layout.bars] == [5, 4, 1]
    scale = layout.plot_width / layout.ticks[-1].value
    for bar in layout.bars:
        assert bar.y + bar.height <= layout.axis_y
        assert sum(segment.width for segment in bar.segments) == pytest.approx(bar.total * scale, abs=0.05)
        assert all(layout.plot_left <= segment.x <= layout.width for segment in bar.segments)
        assert bar.total_x < layout.width
    long = layout.bars[2]
    assert len(long.lines) == 2
    assert "".join(line.text for line in long.lines) != long.full_label
    assert long.lines[0].y < long.text_y < long.lines[1].y
    assert [item.label for item in layout.legend] == ["Green", "Red"]
    assert [item.key for item in layout.patterns] == ["red"]  # a red is never told by colour alone
    assert layout.height > layout.axis_y


def test_the_others_bar_of_a_cut_chart_is_drawn_grey():
    data = chart(
        "areas",
        "Overdue by area",
        ["Area 1", "Area 2", "Others (7)"],
        [{"key": "overdue", "label": "Overdue", "data": [5, 3, 9]}],
    )
    data["others"] = 7  # as table_builders.chart marks a long list it cut to the largest and others
    layout = horizontal_bars(data)
    assert [bar.total for bar in layout.bars] == [5, 3, 9]
    assert [bar.segments[0].colour for bar in layout.bars] == ["#4c2c92", "#4c2c92", "#505a5f"]
    assert layout.single
    assert not layout.legend


def test_a_long_label_is_broken_between_words_onto_two_lines_and_shortened_after():
    assert label_lines("Ideas", 100) == ["Ideas"]
    lines = label_lines("Making the UK a global hub for advanced therapies manufacturing and more besides", 150)
    assert len(lines) == 2
    assert lines[0] == "Making the UK a global"  # 22 characters fit 150 px
    assert lines[1].endswith("…")
    assert all(len(line) * 6.6 <= 150 for line in lines)


def test_nothing_to_draw_says_so():
    layout = horizontal_bars(
        chart("none", "Overdue", [], [{"key": "overdue", "label": "Overdue", "data": []}]),
        empty="No commitment is overdue.",
    )
    assert layout.empty == "No commitment is overdue."
    html = render_to_string("dashboards/_svg_chart.html", {"chart": layout})
    assert "<svg" not in html
    assert "No commitment is overdue." in html


def test_the_template_writes_well_formed_svg_and_escapes_every_label():
    layout = horizontal_bars(
        _stacked(['<script>alert("x")</script> & co', "Places"], ("amber", [2, 1]), ("no_confidence", [3, 0])),
        description="Ratings <by> area & more.",
    )
    html = render_to_string("dashboards/_svg_chart.html", {"chart": layout, "table_caption": "By area"})
    assert "<script>" not in html
    assert "&lt;script&gt;" in html
    svg = html[html.index("<svg") : html.index("</svg>") + len("</svg>")]
    # Well formed: every label escaped, every number a plain number. The text is the template's own output.
    root = ET.fromstring(svg)  # noqa: S314
    assert root.get("role") == "img"
    assert root.findtext(f"{SVG}title") == "A test chart"
    assert "The same figures are in the table “By area”." in root.findtext(f"{SVG}desc", "")
    bars = [rect for rect in root.iter(f"{SVG}rect") if rect.get("height") == "18"]
    assert len(bars) == 3  # one segment per non-zero value
    patterned = [rect for rect in bars if rect.get("fill", "").startswith("url(#")]
    assert patterned
    assert all(rect.get("fill") == "url(#test-amber)" for rect in patterned)
    assert root.find(f".//{SVG}pattern[@id='test-amber']") is not None
    for rect in root.iter(f"{SVG}rect"):
        for name in ("x", "y", "width", "height"):
            value = rect.get(name)
            if value is not None:
                float(value)

"""The board pack's server-drawn charts: the layout (metrics.svg_charts) and the SVG its template writes."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from django.template.loader import render_to_string

from metrics.svg_charts import horizontal_bars, nice_ceiling, top_with_others
from metrics.table_builders import chart

SVG = "{http://www.w3.org/2000/svg}"


def _stacked(labels: list[str], *series: tuple[str, list[int]]) -> dict:
    return chart(
        "test", "A test chart", labels, [{"key": key, "label": key.title(), "data": data} for key, data in series]
    )


def test_top_with_others_keeps_the_largest_and_sums_the_rest():
    labels = ["a", "b", "c", "d", "e"]
    series = [
        {"key": "red", "label": "Red", "data": [1, 5, 0, 3, 2]},
        {"key": "green", "label": "Green", "data": [0, 0, 4, 0, 2]},
    ]
    kept, cut, others = top_with_others(labels, series, 2, "Other areas")
    assert kept == ["b", "c", "Other areas (3)"]  # totals 5 and 4 (ties would keep the given order)
    assert cut[0]["data"] == [5, 0, 1 + 3 + 2]
    assert cut[1]["data"] == [0, 4, 0 + 0 + 2]
    assert others == 3
    # Every category's figures are still there, once.
    assert sum(map(sum, (item["data"] for item in cut))) == sum(map(sum, (item["data"] for item in series)))


def test_others_of_one_is_that_one():
    kept, _, others = top_with_others(["a", "b", "c"], [{"key": "k", "label": "K", "data": [3, 2, 1]}], 2)
    assert kept == ["a", "b", "c"]
    assert others == 0


def test_the_axis_ends_on_a_round_value_at_or_above_the_largest():
    assert [nice_ceiling(value) for value in (0, 1, 3, 7, 10, 23, 27, 51, 175, 1001)] == [
        1,
        1,
        5,
        10,
        10,
        25,
        50,
        100,
        200,
        2000,
    ]


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
    assert long.label.endswith("…")
    assert len(long.label) < len(long.full_label)
    assert [item.label for item in layout.legend] == ["Green", "Red"]
    assert [item.key for item in layout.patterns] == ["red"]  # a red is never told by colour alone
    assert layout.height > layout.axis_y


def test_a_long_list_becomes_sorted_bars_with_the_top_few_and_others():
    labels = [f"Area {index}" for index in range(20)]
    data = [index % 7 for index in range(20)]
    layout = horizontal_bars(
        chart("areas", "Overdue by area", labels, [{"key": "overdue", "label": "Overdue", "data": data}]),
        top=5,
        sort=True,
        omit_empty=True,
        others_label="Other areas",
    )
    totals = [bar.total for bar in layout.bars]
    assert totals[:5] == sorted(totals[:5], reverse=True)
    assert layout.bars[-1].full_label.startswith("Other areas (")
    assert sum(totals) == sum(data)
    assert layout.single
    assert not layout.legend


def test_nothing_to_draw_says_so():
    layout = horizontal_bars(
        chart("none", "Overdue", ["a", "b"], [{"key": "overdue", "label": "Overdue", "data": [0, 0]}]),
        omit_empty=True,
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
    assert root.find(f"{SVG}title").text == "A test chart"
    assert "The same figures are in the table “By area”." in root.find(f"{SVG}desc").text
    bars = [rect for rect in root.iter(f"{SVG}rect") if rect.get("height") == "18"]
    assert len(bars) == 3  # one segment per non-zero value
    patterned = [rect for rect in bars if rect.get("fill", "").startswith("url(#")]
    assert patterned
    assert all(rect.get("fill") == "url(#test-amber)" for rect in patterned)
    assert root.find(f".//{SVG}pattern[@id='test-amber']") is not None
    for rect in root.iter(f"{SVG}rect"):
        for name in ("x", "y", "width", "height"):
            if rect.get(name) is not None:
                float(rect.get(name))

"""Server-rendered SVG: escaped labels, only what the suppressed figures allow."""

from __future__ import annotations

from datetime import date, timedelta

from grievance.console.charts import REST_COLOUR, _nice_max, horizontal_bars, weekly_stacked
from grievance.stats import Breakdown

WEEKS = [date(2026, 11, 2) + timedelta(weeks=i) for i in range(3)]


def test_weekly_stacked_chart():
    by_week = {
        WEEKS[0]: Breakdown(shown={"wages": 6}, rest=5, suppressed=True),
        WEEKS[1]: Breakdown(shown={}, suppressed=True),
        WEEKS[2]: Breakdown(shown={"wages": 5, "overtime": 7}),
    }
    svg, legend = weekly_stacked(WEEKS, by_week, str.upper, rest_label="others",
                                 hidden_label="hidden", title="Cases <per> week")
    assert svg.startswith('<svg class="chart"') and svg.endswith("</svg>")
    assert "Cases &lt;per&gt; week" in svg and "<per>" not in svg
    assert "WAGES: 6" in svg and "OVERTIME: 7" in svg and "others: 5" in svg
    assert "2026-11-09 · hidden" in svg and 'stroke-dasharray' in svg
    assert [item.label for item in legend] == ["WAGES", "OVERTIME", "others", "hidden"]
    assert legend[-1].hidden and not legend[0].hidden
    assert legend[-2].colour == REST_COLOUR
    assert "style=" not in svg and "<script" not in svg


def test_horizontal_bars_escape_labels():
    svg = horizontal_bars(Breakdown(shown={"a": 9, "b": 5}, rest=6, suppressed=True),
                          lambda g: "<b>" + g, rest_label="rest", title="t")
    assert "&lt;b&gt;a" in svg and "<b>" not in svg
    assert svg.index("&lt;b&gt;a") < svg.index("rest: 6") and svg.index("&lt;b&gt;b") > 0
    empty = horizontal_bars(Breakdown(shown={}), str, rest_label="rest", title="t")
    assert "<rect" not in empty


def test_axis_maximum():
    assert [_nice_max(n) for n in (0, 1, 3, 7, 11, 21, 29, 51, 61)] == [
        1, 1, 3, 8, 20, 25, 30, 60, 80]

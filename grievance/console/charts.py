"""Server-rendered SVG charts for the dashboard (no script, no CDN, CSP-friendly).

Colours and sizes are SVG presentation attributes, not ``style`` attributes, so the
console's Content-Security-Policy can forbid inline styles. Every label is escaped.
The figures come already suppressed from :mod:`grievance.stats`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date

from markupsafe import Markup, escape

from grievance.stats import Breakdown

#: Colour-blind friendly palette (Tableau 10); "others combined" is grey.
PALETTE: tuple[str, ...] = (
    "#4e79a7",
    "#f28e2b",
    "#e15759",
    "#76b7b2",
    "#59a14f",
    "#edc948",
    "#b07aa1",
    "#ff9da7",
    "#9c755f",
    "#2f4b7c",
)
REST_COLOUR = "#a8a29e"
REST = "\x00rest"


@dataclass(frozen=True, slots=True)
class LegendItem:
    """One entry of a chart legend."""

    label: str
    colour: str
    hidden: bool = False


def _nice_max(value: int) -> int:
    """A round axis maximum at or above ``value`` (1, 2, 3, 4, 5, 6, 8, 10, 20, 25, 30 ...)."""
    if value <= 1:
        return 1
    magnitude = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 3, 4, 5, 6, 8, 10):
        if step * magnitude >= value and float(step * magnitude).is_integer():
            return int(step * magnitude)
    return int(10 * magnitude)  # pragma: no cover - the loop always returns


def series_colours(groups: Sequence[str]) -> dict[str, str]:
    """A colour per group, in order; groups beyond the palette share the grey."""
    colours = {g: PALETTE[i] for i, g in enumerate(groups[: len(PALETTE)])}
    colours.update(dict.fromkeys(groups[len(PALETTE):], REST_COLOUR))
    colours[REST] = REST_COLOUR
    return colours


def weekly_stacked(
    weeks: Sequence[date],
    by_week: dict[date, Breakdown],
    label: Callable[[str], str],
    *,
    rest_label: str,
    hidden_label: str,
    title: str,
) -> tuple[Markup, list[LegendItem]]:
    """A stacked bar per week, one colour per category, and its legend.

    Args:
        weeks: the Mondays to show, oldest first.
        by_week: the suppressed breakdown of each week.
        label: the display name of a category.
        rest_label: the name of "other categories combined".
        hidden_label: the tooltip of a week whose cases are all hidden.
        title: the chart's accessible title.
    """
    totals: dict[str, int] = {}
    for week in weeks:
        for group, count in by_week[week].shown.items():
            totals[group] = totals.get(group, 0) + count
    groups = sorted(totals, key=lambda g: (-totals[g], g))
    colours = series_colours(groups)
    width, height, left, bottom, top = 720, 260, 40, 34, 12
    plot_h = height - bottom - top
    peak = max((by_week[w].total_shown for w in weeks), default=0)
    axis_max = _nice_max(peak)
    slot = (width - left - 8) / max(len(weeks), 1)
    bar_w = max(slot * 0.68, 2.0)
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
    ]
    for tick in (0, axis_max // 2, axis_max) if axis_max > 1 else (0, axis_max):
        y = top + plot_h - plot_h * tick / axis_max
        parts.append(
            f'<line x1="{left}" x2="{width - 4}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="#e7e5e4" stroke-width="1"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" '
            f'font-size="11" fill="#57534e">{tick}</text>'
        )
    every = max(1, math.ceil(len(weeks) / 12))
    for i, week in enumerate(weeks):
        x = left + i * slot + (slot - bar_w) / 2
        y = top + plot_h
        breakdown = by_week[week]
        stack = [(g, breakdown.shown[g]) for g in groups if g in breakdown.shown]
        if breakdown.rest:
            stack.append((REST, breakdown.rest))
        for group, count in stack:
            h = plot_h * count / axis_max
            y -= h
            name = rest_label if group == REST else label(group)
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}" '
                f'fill="{colours.get(group, REST_COLOUR)}">'
                f"<title>{escape(week.isoformat())} · {escape(name)}: {count}</title></rect>"
            )
        if breakdown.suppressed and not breakdown.rest:
            parts.append(
                f'<rect x="{x:.1f}" y="{y - 6:.1f}" width="{bar_w:.1f}" height="6" fill="none" '
                f'stroke="#a8a29e" stroke-dasharray="3 2">'
                f"<title>{escape(week.isoformat())} · {escape(hidden_label)}</title></rect>"
            )
        if i % every == 0:
            parts.append(
                f'<text x="{x + bar_w / 2:.1f}" y="{height - bottom + 16}" text-anchor="middle" '
                f'font-size="11" fill="#57534e">{week:%m-%d}</text>'
            )
    parts.append("</svg>")
    legend = [LegendItem(label(g), colours[g]) for g in groups]
    if any(by_week[w].rest for w in weeks):
        legend.append(LegendItem(rest_label, REST_COLOUR))
    if any(by_week[w].suppressed and not by_week[w].rest for w in weeks):
        legend.append(LegendItem(hidden_label, "none", hidden=True))
    return Markup("".join(parts)), legend  # noqa: S704 - every value is escaped above


def horizontal_bars(
    breakdown: Breakdown,
    label: Callable[[str], str],
    *,
    rest_label: str,
    title: str,
    colour: str = PALETTE[0],
) -> Markup:
    """One horizontal bar per shown group, largest first, then "others combined".

    Args:
        breakdown: the suppressed counts.
        label: the display name of a group.
        rest_label: the name of "other groups combined".
        title: the chart's accessible title.
        colour: the bars' colour.
    """
    rows = sorted(breakdown.shown.items(), key=lambda item: (-item[1], item[0]))
    named = [(label(g), n, colour) for g, n in rows]
    if breakdown.rest:
        named.append((rest_label, breakdown.rest, REST_COLOUR))
    width, row_h, label_w = 580, 28, 215
    height = max(len(named), 1) * row_h + 8
    peak = max((n for _, n, _ in named), default=1)
    bar_space = width - label_w - 56
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
    ]
    for i, (name, count, fill) in enumerate(named):
        y = 4 + i * row_h
        w = max(bar_space * count / peak, 2.0)
        parts.append(
            f'<text x="{label_w - 8}" y="{y + 19}" text-anchor="end" font-size="14" '
            f'fill="#292524">{escape(name)}</text>'
            f'<rect x="{label_w}" y="{y + 5}" width="{w:.1f}" height="{row_h - 10}" rx="3" '
            f'fill="{fill}"><title>{escape(name)}: {count}</title></rect>'
            f'<text x="{label_w + w + 6:.1f}" y="{y + 19}" font-size="14" '
            f'fill="#292524">{count}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every value is escaped above

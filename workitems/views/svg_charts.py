"""Tiny server-rendered SVG bar charts: no JavaScript, no CDN, every text escaped.

Accessible: the chart is `role="img"` labelled by its `<title>` and `<desc>`; each bar has its own
`<title>` (a tooltip, read by screen readers) and may link to the list it counts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.text import slugify


@dataclass(frozen=True)
class Bar:
    label: str  # under the bar
    value: float  # bar height, in the chart's units
    title: str  # the bar's tooltip: say what it counts
    display: str = ""  # above the bar; empty: the value
    href: str | None = None


def _num(x: float) -> str:
    return f"{x:.1f}".rstrip("0").rstrip(".")


def bar_chart_svg(
    *,
    title: str,
    description: str,
    bars: Sequence[Bar],
    max_value: float | None = None,
    width: int = 560,
    height: int = 220,
    chart_id: str = "",
) -> SafeString:
    """An SVG bar chart, bars left to right. `max_value` fixes the scale (e.g. 1.0 for rates)."""
    chart_id = slugify(chart_id or title) or "chart"
    top, bottom, side = 22, 34, 8
    plot_height = height - top - bottom
    count = max(len(bars), 1)
    slot = (width - 2 * side) / count
    bar_width = max(slot * 0.7, 1)
    scale_max = max_value if max_value else max((b.value for b in bars), default=0)
    scale_max = scale_max or 1
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="bar-chart" role="img" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        f'<desc id="{chart_id}-desc">{escape(description)}</desc>',
        f'<line class="axis" x1="{side}" y1="{top + plot_height}" x2="{width - side}" '
        f'y2="{top + plot_height}" stroke="currentColor" stroke-width="1"/>',
    ]
    small = count > 8
    for i, bar in enumerate(bars):
        value = max(bar.value, 0)
        h = plot_height * min(value / scale_max, 1)
        x = side + i * slot + (slot - bar_width) / 2
        y = top + plot_height - h
        centre = x + bar_width / 2
        shown = bar.display or _num(bar.value)
        group = [
            f"<title>{escape(bar.title)}</title>",
            f'<rect class="bar" x="{_num(x)}" y="{_num(y)}" width="{_num(bar_width)}" '
            f'height="{_num(max(h, 0))}" fill="#79aec8"/>',
            f'<text class="bar-value" x="{_num(centre)}" y="{_num(y - 4)}" '
            f'text-anchor="middle" font-size="{10 if small else 12}">{escape(shown)}</text>',
            f'<text class="bar-label" x="{_num(centre)}" y="{top + plot_height + 16}" '
            f'text-anchor="middle" font-size="{10 if small else 12}">{escape(bar.label)}</text>',
        ]
        inner = "".join(group)
        if bar.href:
            parts.append(f'<a href="{escape(bar.href)}" class="bar-link">{inner}</a>')
        else:
            parts.append(f'<g class="bar-group">{inner}</g>')
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every interpolated text is escaped above

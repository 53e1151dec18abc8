"""Charts of the dashboard as inline SVG drawn on the server: no script, no library,
readable by screen readers (each chart has a title and each bar its number)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date

from markupsafe import Markup, escape

# Colours with enough contrast on white, one per channel (then repeated).
PALETTE = ("#1f5fbf", "#d9480f", "#2b8a3e", "#7048e8", "#c2255c", "#0c8599")
WIDTH = 960
HEIGHT = 260
LEFT = 44
BOTTOM = 36
TOP = 12


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[int]


def stacked_days(
    title: str,
    days: Sequence[date],
    series: Sequence[Series],
    link: Callable[[str, date], str] | None = None,
) -> Markup:
    """A bar per day, stacked by series (channels), with a legend; a bar's part links
    to ``link(series name, day)`` when given."""
    totals = [sum(s.values[i] for s in series) for i in range(len(days))]
    top = _nice(max(totals, default=0))
    plot_w, plot_h = WIDTH - LEFT - 8, HEIGHT - BOTTOM - TOP
    step = plot_w / max(1, len(days))
    bar = max(2.0, step * 0.72)
    parts = [
        f'<svg viewBox="0 0 {WIDTH} {HEIGHT + 24}" role="img" aria-labelledby="t-{id(days)}">',
        f'<title id="t-{id(days)}">{escape(title)}</title>',
    ]
    for tick in (0, top // 2, top):
        y = TOP + plot_h - (tick / top * plot_h if top else 0)
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - 8}" y1="{y:.1f}" y2="{y:.1f}" stroke="#d8dce5"/>'
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11">{tick}</text>'
        )
    label_every = max(1, len(days) // 12)
    for i, day in enumerate(days):
        x = LEFT + i * step + (step - bar) / 2
        y = TOP + plot_h
        for n, s in enumerate(series):
            value = s.values[i]
            if not value:
                continue
            h = value / top * plot_h if top else 0
            y -= h
            rect = (
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                f'fill="{PALETTE[n % len(PALETTE)]}"><title>{day:%d.%m}, {escape(s.name)}: '
                f"{value}</title></rect>"
            )
            if link is not None:
                rect = f'<a href="{escape(link(s.name, day))}">{rect}</a>'
            parts.append(rect)
        if i % label_every == 0:
            parts.append(
                f'<text x="{x + bar / 2:.1f}" y="{TOP + plot_h + 16}" text-anchor="middle" '
                f'font-size="11">{day:%d.%m}</text>'
            )
    x = LEFT
    for n, s in enumerate(series):
        parts.append(
            f'<rect x="{x}" y="{HEIGHT + 8}" width="12" height="12" '
            f'fill="{PALETTE[n % len(PALETTE)]}"/>'
            f'<text x="{x + 16}" y="{HEIGHT + 18}" font-size="12">{escape(s.name)} '
            f"({sum(s.values)})</text>"
        )
        x += 24 + 8 * (len(s.name) + len(str(sum(s.values))) + 3)
    parts.append("</svg>")
    return Markup("".join(parts))


def bars(title: str, rows: Sequence[tuple[str, int]], colour: str = PALETTE[0]) -> Markup:
    """Horizontal bars, one per labelled value."""
    top = max((v for _, v in rows), default=0) or 1
    row_h, label_w = 24, 260
    height = row_h * len(rows) + 8
    parts = [
        f'<svg viewBox="0 0 {WIDTH} {height}" role="img" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
    ]
    for i, (label, value) in enumerate(rows):
        y = 4 + i * row_h
        w = (WIDTH - label_w - 60) * value / top
        parts.append(
            f'<text x="{label_w - 8}" y="{y + 16}" text-anchor="end" font-size="13">'
            f"{escape(label[:40])}</text>"
            f'<rect x="{label_w}" y="{y + 3}" width="{w:.1f}" height="{row_h - 8}" '
            f'fill="{colour}"/>'
            f'<text x="{label_w + w + 6:.1f}" y="{y + 16}" font-size="13">{value}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def _nice(value: int) -> int:
    """A round upper bound for an axis: 1, 2 or 5 times a power of ten."""
    if value <= 0:
        return 0
    scale = 1
    while True:
        for step in (1, 2, 5):
            if value <= step * scale:
                return step * scale
        scale *= 10

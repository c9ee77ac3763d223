"""Charts drawn on the server as plain SVG: no chart library, no script, printable. Each chart carries a
title for screen readers, and the page shows the same figures in a table beside it."""

from __future__ import annotations

from dataclasses import dataclass

from markupsafe import Markup, escape

PALETTE = ("#0b5394", "#1b6e35", "#b3261e", "#8a5a00", "#6a3d9a", "#00838f", "#5b6475", "#c2185b")
ROW, LABEL_WIDTH, BAR_WIDTH = 26, 180, 360


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    shown: str  # the value as the chart writes it beside the bar


def bar_chart(title: str, bars: list[Bar], color: str = PALETTE[0]) -> Markup:
    """Horizontal bars, one row each: label, bar, value."""
    top = max((b.value for b in bars), default=0) or 1
    height = ROW * len(bars) + 10
    width = LABEL_WIDTH + BAR_WIDTH + 90
    parts = [_open(title, width, height)]
    for n, bar in enumerate(bars):
        y = n * ROW + 5
        length = BAR_WIDTH * bar.value / top
        parts.append(_label(LABEL_WIDTH - 6, y + 16, bar.label, "end"))
        parts.append(f'<rect x="{LABEL_WIDTH}" y="{y + 4}" width="{length:.1f}" height="{ROW - 8}" fill="{color}"/>')
        parts.append(_label(LABEL_WIDTH + length + 6, y + 16, bar.shown, "start"))
    parts.append("</svg>")
    return Markup("".join(parts))


def paired_bar_chart(title: str, rows: list[tuple[str, float, float, str]], names: tuple[str, str]) -> Markup:
    """Two bars per row (e.g. median and p90), with a legend: (label, first, second, shown)."""
    top = max((max(a, b) for _, a, b, _ in rows), default=0) or 1
    height = 2 * ROW * len(rows) + 34
    width = LABEL_WIDTH + BAR_WIDTH + 150
    parts = [_open(title, width, height), _legend(names, 4)]
    for n, (label, first, second, shown) in enumerate(rows):
        y = n * 2 * ROW + 30
        parts.append(_label(LABEL_WIDTH - 6, y + ROW, label, "end"))
        for m, (value, color) in enumerate(((first, PALETTE[0]), (second, PALETTE[3]))):
            length = BAR_WIDTH * value / top
            parts.append(
                f'<rect x="{LABEL_WIDTH}" y="{y + m * (ROW - 4) + 4}" width="{length:.1f}" height="{ROW - 8}" '
                f'fill="{color}"/>'
            )
        parts.append(_label(LABEL_WIDTH + BAR_WIDTH + 8, y + ROW, shown, "start"))
    parts.append("</svg>")
    return Markup("".join(parts))


def stacked_columns(title: str, columns: list[str], series: list[str], values: dict[str, dict[str, int]]) -> Markup:
    """One column per month, stacked by series (departments), with a legend."""
    top = max((sum(values.get(c, {}).values()) for c in columns), default=0) or 1
    column, chart_height, headroom = 56, 200, 20  # headroom: the total above the tallest column
    legend_rows = (len(series) + 2) // 3
    width = max(len(columns) * column + 60, 540)
    height = headroom + chart_height + 50 + legend_rows * 20
    parts = [_open(title, width, height)]
    for n, name in enumerate(columns):
        x, base = 40 + n * column, headroom + chart_height + 10
        for m, key in enumerate(series):
            count = values.get(name, {}).get(key, 0)
            if not count:
                continue
            h = chart_height * count / top
            base -= h
            parts.append(
                f'<rect x="{x}" y="{base:.1f}" width="{column - 14}" height="{h:.1f}" '
                f'fill="{PALETTE[m % len(PALETTE)]}"><title>{escape(name)} {escape(key)}: {count}</title></rect>'
            )
        parts.append(_label(x + (column - 14) / 2, base - 4, str(sum(values.get(name, {}).values())), "middle"))
        parts.append(_label(x + (column - 14) / 2, headroom + chart_height + 26, name, "middle"))
    for m, key in enumerate(series):
        lx, ly = 40 + (m % 3) * 180, headroom + chart_height + 44 + (m // 3) * 20
        parts.append(f'<rect x="{lx}" y="{ly - 10}" width="12" height="12" fill="{PALETTE[m % len(PALETTE)]}"/>')
        parts.append(_label(lx + 16, ly, key, "start"))
    parts.append("</svg>")
    return Markup("".join(parts))


def _open(title: str, width: float, height: float) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width:.0f} {height:.0f}" '
        f'role="img" aria-label="{escape(title)}"><title>{escape(title)}</title>'
    )


def _legend(names: tuple[str, str], y: float) -> str:
    out = []
    for m, name in enumerate(names):
        x = LABEL_WIDTH + m * 140
        color = (PALETTE[0], PALETTE[3])[m]
        out.append(f'<rect x="{x}" y="{y}" width="12" height="12" fill="{color}"/>')
        out.append(_label(x + 16, y + 11, name, "start"))
    return "".join(out)


def _label(x: float, y: float, text: str, anchor: str) -> str:
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="12">{escape(text)}</text>'

"""Charts drawn on the server as SVG: no script, every label escaped, a title and a description for screen
readers (the table beside each chart is the full text alternative)."""

from __future__ import annotations

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe


def _fmt(v: float) -> str:
    return f"{v:,.1f}" if abs(v) < 100 else f"{v:,.0f}"


def bar_chart(rows: list[tuple[str, float | None, float | None, float | None]], title: str, unit: str) -> SafeString:
    """Horizontal bars, one per group, with the 95% interval as a whisker; a group without a figure
    (suppressed, or nothing to count) has no bar and says why in its label."""
    label_w, bar_w, row_h = 190, 220, 28
    height = row_h * len(rows) + 30
    top = max([v for _l, v, _lo, hi in rows for v in (v, hi) if v is not None] or [1.0]) or 1.0
    parts = [
        f'<svg class="app-mi-chart" viewBox="0 0 {label_w + bar_w + 70} {height}" width="100%" role="img" '
        f'aria-labelledby="chart-title chart-desc" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="chart-title">{escape(title)}</title>',
        f'<desc id="chart-desc">Bar chart of {escape(title)}, {escape(unit)}, one bar per group with its 95% '
        "confidence interval; the table beside it gives every figure.</desc>",
    ]
    for i, (label, value, low, high) in enumerate(rows):
        y = i * row_h + 4
        short = label if len(label) <= 30 else label[:28] + "…"
        parts.append(
            f'<text x="{label_w - 8}" y="{y + 16}" text-anchor="end" class="app-mi-chart__label">{escape(short)}</text>'
        )
        if value is None:
            parts.append(f'<text x="{label_w + 4}" y="{y + 16}" class="app-mi-chart__none">no figure</text>')
            continue
        w = bar_w * value / top
        parts.append(f'<rect x="{label_w}" y="{y + 3}" width="{w:.1f}" height="{row_h - 8}" class="app-mi-chart__bar">'
                     f"<title>{escape(label)}: {_fmt(value)} {escape(unit)}</title></rect>")  # fmt: skip
        if low is not None and high is not None:
            x1, x2 = label_w + bar_w * low / top, label_w + bar_w * high / top
            cy = y + row_h / 2 - 1
            parts.append(f'<line x1="{x1:.1f}" x2="{x2:.1f}" y1="{cy}" y2="{cy}" class="app-mi-chart__ci"/>')
            for x in (x1, x2):
                parts.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{cy - 5}" y2="{cy + 5}" class="app-mi-chart__ci"/>')
        end = max(w, bar_w * high / top if high is not None else 0.0)  # after the whisker, not over it
        parts.append(f'<text x="{label_w + end + 6:.1f}" y="{y + 16}" class="app-mi-chart__value">{_fmt(value)}</text>')
    parts.append(f'<line x1="{label_w}" x2="{label_w}" y1="0" y2="{height - 26}" class="app-mi-chart__axis"/>')
    parts.append("</svg>")
    return mark_safe("".join(parts))  # every text in it is escaped above


def line_chart(points: list[tuple[str, float | None]], title: str, unit: str) -> SafeString:
    """A trend over quarters; a quarter without a figure breaks the line."""
    w, h, left, bottom = 480, 200, 50, 30
    values = [v for _l, v in points if v is not None]
    top = max(values or [1.0]) * 1.1 or 1.0
    step = (w - left - 30) / max(len(points) - 1, 1)
    parts = [
        f'<svg class="app-mi-chart" viewBox="0 0 {w} {h + bottom}" width="100%" role="img" '
        f'aria-labelledby="trend-title trend-desc" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="trend-title">{escape(title)}</title>',
        f'<desc id="trend-desc">Line chart of {escape(title)}, {escape(unit)}, over the last {len(points)} '
        "quarters; the table below it gives every figure.</desc>",
        f'<line x1="{left}" x2="{w}" y1="{h}" y2="{h}" class="app-mi-chart__axis"/>',
        f'<line x1="{left}" x2="{left}" y1="0" y2="{h}" class="app-mi-chart__axis"/>',
        f'<text x="{left - 6}" y="{h}" text-anchor="end" class="app-mi-chart__label">0</text>',
        f'<text x="{left - 6}" y="12" text-anchor="end" class="app-mi-chart__label">{_fmt(top)}</text>',
    ]
    run: list[str] = []
    for i, (label, v) in enumerate(points):
        x = left + i * step
        parts.append(f'<text x="{x:.1f}" y="{h + 20}" text-anchor="middle" class="app-mi-chart__label">'
                     f"{escape(label)}</text>")  # fmt: skip
        if v is None:
            if len(run) > 1:
                parts.append(f'<polyline points="{" ".join(run)}" class="app-mi-chart__line"/>')
            run = []
            continue
        y = h - (h - 10) * v / top
        run.append(f"{x:.1f},{y:.1f}")
        parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" class="app-mi-chart__point">'
                     f"<title>{escape(label)}: {_fmt(v)} {escape(unit)}</title></circle>")  # fmt: skip
    if len(run) > 1:
        parts.append(f'<polyline points="{" ".join(run)}" class="app-mi-chart__line"/>')
    parts.append("</svg>")
    return mark_safe("".join(parts))  # every text in it is escaped above

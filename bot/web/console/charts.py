"""Server-rendered SVG charts (no JavaScript): the units by status and the submissions per
day up to the deadline. They scale to the page's width (``viewBox``)."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta

from markupsafe import Markup, escape

from templates.messages import say

STATUS_COLOURS = {
    "not_started": "#9aa5b1",
    "in_progress": "#f0b429",
    "submitted": "#2680c2",
    "returned": "#d64545",
    "approved": "#3f9142",
}
MAX_DAYS = 60  # the per-day chart shows at most this many days before the deadline
MIN_DAYS = 14  # and at least this many, so that one busy day is not one wide block


def status_chart(counts: list[tuple[str, str, int]]) -> Markup:
    """Horizontal bars: (status, label, count) each."""
    width, row, label_w = 360, 26, 110
    top = max((n for _s, _l, n in counts), default=0) or 1
    bar_w = width - label_w - 40
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {row * len(counts) + 4}" role="img" '
        f'aria-label="{escape(say("web_console_chart_status"))}">'
    ]
    for i, (status, label, n) in enumerate(counts):
        y = i * row + 2
        w = round(bar_w * n / top) if n else 0
        colour = STATUS_COLOURS.get(status, "#888")
        parts.append(
            f'<text x="0" y="{y + 16}" font-size="13">{escape(label)}</text>'
            f'<rect x="{label_w}" y="{y + 3}" width="{max(w, 1)}" height="17" fill="{colour}">'
            f"<title>{escape(label)}: {n}</title></rect>"
            f'<text x="{label_w + w + 5}" y="{y + 16}" font-size="13">{n}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def daily_chart(times: list[date], deadline: date, today: date) -> Markup:
    """Vertical bars: submissions per day, from the first submission (or up to ``MAX_DAYS``
    before the deadline) to the deadline."""
    per_day = Counter(times)
    first = min([*per_day, min(today, deadline), deadline - timedelta(days=MIN_DAYS - 1)])
    first = max(first, deadline - timedelta(days=MAX_DAYS - 1))
    days = [first + timedelta(days=i) for i in range((deadline - first).days + 1)] or [deadline]
    width, height, bottom = 360, 120, 18
    top = max(per_day.values(), default=0) or 1
    step = width / len(days)
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(say("web_console_chart_daily"))}">',
        f'<line x1="0" y1="{height - bottom}" x2="{width}" y2="{height - bottom}" '
        f'stroke="#bcccdc"/>',
    ]
    for i, day in enumerate(days):
        n = per_day.get(day, 0)
        h = round((height - bottom - 14) * n / top)
        x = i * step
        fill = "#2680c2"
        if n:
            parts.append(
                f'<rect x="{x + step * 0.15:.1f}" y="{height - bottom - h}" '
                f'width="{max(step * 0.7, 1):.1f}" height="{h}" fill="{fill}">'
                f"<title>{day:%d/%m}: {n}</title></rect>"
                f'<text x="{x + step / 2:.1f}" y="{height - bottom - h - 3}" font-size="10" '
                f'text-anchor="middle">{n}</text>'
            )
    # A few dates under the axis: the first, the deadline and some between.
    marks = sorted({0, len(days) - 1, *range(0, len(days), max(1, len(days) // 4))})
    for i in marks:
        if i != len(days) - 1 and len(days) - 1 - i < max(3, len(days) // 5):
            continue  # too close to the deadline's label
        anchor = "end" if i == len(days) - 1 else ("start" if i == 0 else "middle")
        x = width if i == len(days) - 1 else (0 if i == 0 else (i + 0.5) * step)
        last = i == len(days) - 1
        day = f"{days[i]:%d/%m}"
        label = escape(say("web_console_chart_deadline", day=day)) if last else day
        parts.append(
            f'<text x="{x:.1f}" y="{height - 4}" font-size="10" text-anchor="{anchor}"'
            + (' fill="#d64545">' if last else ">")
            + f"{label}</text>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))

"""Small server-rendered SVG bar charts for the auditors' dashboards (no script, no outside files)."""

from __future__ import annotations

from collections.abc import Sequence

from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe


def bar_chart(
    data: Sequence[tuple[str, float]],
    *,
    title: str,
    value_format: str = "{:g}",
    width: int = 640,
    bar_height: int = 18,
    label_width: int = 120,
) -> SafeString:
    """Horizontal bars, one per ``(label, value)``, with the value written at the end of each bar."""
    if not data:
        return format_html('<p class="empty">{}</p>', title)
    top = max((value for _label, value in data), default=0) or 1
    gap = 6
    height = len(data) * (bar_height + gap) + gap
    room = width - label_width - 70
    parts = [
        f'<svg role="img" aria-label="{escape(title)}" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg" class="chart">',
        f"<title>{escape(title)}</title>",
    ]
    for i, (label, value) in enumerate(data):
        y = gap + i * (bar_height + gap)
        length = max(1.0, room * value / top) if value else 0.0
        parts.append(
            f'<text x="{label_width - 6}" y="{y + bar_height - 5}" text-anchor="end" font-size="12">'
            f"{escape(str(label))}</text>"
            f'<rect x="{label_width}" y="{y}" width="{length:.1f}" height="{bar_height}" fill="#0b57d0"></rect>'
            f'<text x="{label_width + length + 4:.1f}" y="{y + bar_height - 5}" font-size="12">'
            f"{escape(value_format.format(value))}</text>"
        )
    parts.append("</svg>")
    # Every piece of outside text above went through escape().
    return mark_safe("".join(parts))  # noqa: S308


def histogram_chart(
    bars: Sequence[tuple[str, int, str]], *, title: str, width: int = 960, height: int = 120
) -> SafeString:
    """Vertical bars, one per ``(description, count, link)``, each a link to its own stretch of time.

    The whole height of a bar's column is its link, so an empty bar can be clicked too; its title (the
    description and the count) is what a pointer shows and a screen reader reads. The drawing stretches
    to the width it is given (no text inside, which would stretch with it).
    """
    if not bars:
        return format_html('<p class="empty">{}</p>', title)
    top = max(count for _d, count, _l in bars) or 1
    step = width / len(bars)
    gap = min(2.0, step * 0.2)
    parts = [
        f'<svg role="img" aria-label="{escape(title)}" viewBox="0 0 {width} {height}" '
        f'preserveAspectRatio="none" xmlns="http://www.w3.org/2000/svg" class="histogram">',
        f"<title>{escape(title)}</title>",
    ]
    for i, (description, count, link) in enumerate(bars):
        x = i * step
        tall = max(height * count / top, 1.5) if count else 0.0
        label = escape(f"{description}: {count}")
        parts.append(
            f'<a href="{escape(link)}" aria-label="{label}" class="bar">'
            f'<rect x="{x:.2f}" y="0" width="{step:.2f}" height="{height}" class="hit"></rect>'
            f'<rect x="{x + gap / 2:.2f}" y="{height - tall:.2f}" width="{max(step - gap, 0.5):.2f}" '
            f'height="{tall:.2f}" class="value"></rect><title>{label}</title></a>'
        )
    parts.append("</svg>")
    # Every piece of outside text above went through escape().
    return mark_safe("".join(parts))  # noqa: S308

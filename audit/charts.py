"""Server-rendered SVG bar charts for the auditors' log page and dashboard (no script, no outside files)."""

from __future__ import annotations

import math
from collections.abc import Sequence

from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe


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


def columns_chart(
    columns: Sequence[Sequence[tuple[float | None, str, str]]],
    *,
    title: str,
    top: float,
    classes: Sequence[str],
    stacked: bool = True,
    width: int = 960,
    height: int = 160,
) -> SafeString:
    """Vertical bars over time, one column per stretch, each holding one ``(value, link, description)`` per series.

    ``classes`` names each series' CSS class (its colour, which the legend repeats). Stacked, the series pile
    up; otherwise each is drawn over the one before, narrower (for figures that
    contain each other, such as p95 over p50). Each piece is a link; a column with nothing shows its
    links on a hover band the full height. The axis labels are the page's (HTML, outside the drawing, which
    stretches).
    """
    top = top or 1
    step = width / max(len(columns), 1)
    gap = min(2.0, step * 0.2)
    parts = [
        f'<svg role="img" aria-label="{escape(title)}" viewBox="0 0 {width} {height}" '
        f'preserveAspectRatio="none" xmlns="http://www.w3.org/2000/svg" class="columns">',
        f"<title>{escape(title)}</title>",
    ]
    for i, pieces in enumerate(columns):
        x = i * step
        base = 0.0
        inner = max(step - gap, 0.5)
        for series, (value, link, description) in enumerate(pieces):
            tall = max(height * value / top, 1.5) if value else 0.0
            if stacked:
                y, left, wide = height - base - tall, x + gap / 2, inner
                base += tall
            else:
                wide = inner * (1 - 0.45 * series)
                y, left = height - tall, x + gap / 2 + (inner - wide) / 2
            band = (
                f'<rect x="{x:.2f}" y="0" width="{step:.2f}" height="{height}" class="hit"></rect>'
                if series == 0
                else ""
            )
            css = escape(classes[series])
            parts.append(
                f'<a href="{escape(link)}" aria-label="{escape(description)}" class="bar {css}">{band}'
                f'<rect x="{left:.2f}" y="{y:.2f}" width="{wide:.2f}" height="{tall:.2f}" class="value"></rect>'
                f"<title>{escape(description)}</title></a>"
            )
    parts.append("</svg>")
    # Every piece of outside text above went through escape().
    return mark_safe("".join(parts))  # noqa: S308


def nice_top(value: float) -> float:
    """The axis maximum: ``value`` rounded up to 1, 2 or 5 times a power of ten."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for factor in (1, 2, 5, 10):
        if value <= factor * power:
            return float(factor * power)
    return float(10 * power)

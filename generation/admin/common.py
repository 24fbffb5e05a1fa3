"""What the generation admin pages share: read-only records and figures named in words."""

from __future__ import annotations

from typing import Any

from django.utils.html import format_html, format_html_join

from genai_platform.admin_mixins import ReadOnlyAdminMixin as PlatformReadOnlyAdminMixin
from generation.quality import figures_readable


class ReadOnlyAdminMixin(PlatformReadOnlyAdminMixin):
    """Records written by workers: operators look, they do not edit (deleting stays possible)."""

    allow_delete = True


def figure_table(figures: dict[str, Any]) -> str:
    """Figures named in words and rounded, as a small table."""
    rows = figures_readable(figures or {})
    if not rows:
        return "—"
    return format_html(
        '<table class="figures">{}</table>',
        format_html_join("", "<tr><th>{}</th><td>{}</td></tr>", rows),
    )

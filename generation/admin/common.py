"""What the generation admin pages share: read-only records and rows, the confirmation page of an action, and
figures named in words."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.admin import helpers
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.utils.html import format_html, format_html_join

from genai_platform.admin_mixins import ReadOnlyAdminMixin as PlatformReadOnlyAdminMixin
from generation.quality import figures_readable


class ReadOnlyAdminMixin(PlatformReadOnlyAdminMixin):
    """Records written by workers: operators look, they do not edit (deleting stays possible)."""

    allow_delete = True


def action_confirmation(
    model_admin: admin.ModelAdmin[Any], request: HttpRequest, template: str, **context: Any
) -> TemplateResponse:
    """The page an action shows before it acts, on ``admin/generation/action_confirmation.html``: ``context`` holds
    its ``title`` and ``form`` and what the page names."""
    return TemplateResponse(
        request,
        template,
        {
            **model_admin.admin_site.each_context(request),
            "opts": model_admin.model._meta,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            **context,
        },
    )


def figure_table(figures: dict[str, Any]) -> str:
    """Figures named in words and rounded, as a small table."""
    rows = figures_readable(figures or {})
    if not rows:
        return "—"
    return format_html(
        '<table class="figures">{}</table>',
        format_html_join("", "<tr><th>{}</th><td>{}</td></tr>", rows),
    )

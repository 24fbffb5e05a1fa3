"""Exports of the filing package."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from filing.admin_base import FilingModelAdmin
from filing.models import FilingExport
from genai_platform.admin_mixins import ReadOnlyAdminMixin
from genai_platform.object_storage import stored_file_response


@admin.register(FilingExport)
class FilingExportAdmin(ReadOnlyAdminMixin, FilingModelAdmin):
    list_display = ("service", "created_at", "status", "draft", "progress_shown", "download", "requested_by")
    list_filter = ("status", "draft")
    readonly_fields = (
        "service",
        "status",
        "draft",
        "open_items_shown",
        "progress_shown",
        "step_shown",
        "download",
        "sha256",
        "error",
        "requested_by_name",
        "created_at",
        "finished_at",
    )
    fields = readonly_fields
    own_pages = {"download": "<int:pk>/download/"}
    allow_delete = True

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None) -> Any:
        export = self.get_object(request, object_id)
        extra_context = dict(extra_context or {})
        extra_context["refresh"] = export is not None and export.status in (
            FilingExport.Status.QUEUED,
            FilingExport.Status.RUNNING,
        )
        return super().change_view(request, object_id, form_url, extra_context)

    @admin.display(description=_("progress"))
    def progress_shown(self, obj: FilingExport) -> str:
        return format_html(
            '<progress max="100" value="{}"></progress> {}% {}', obj.progress, obj.progress, self.step_shown(obj)
        )

    @admin.display(description=_("step"))
    def step_shown(self, obj: FilingExport) -> str:
        # Steps are stored in English (gettext_noop in filing.package.build) and shown in the reader's language.
        return gettext(obj.step) if obj.step else ""

    @admin.display(description=_("requested by"))
    def requested_by_name(self, obj: FilingExport) -> str:
        # The name only: a link would lead operators to the user pages, which only superusers may open.
        return obj.requested_by.get_username() if obj.requested_by else "—"

    @admin.display(description=_("open, missing or demo data when built"))
    def open_items_shown(self, obj: FilingExport) -> str:
        if not obj.open_items:
            return "—"
        return format_html("<ul>{}</ul>", format_html_join("", "<li>{}</li>", ((line,) for line in obj.open_items)))

    @admin.display(description=_("file"))
    def download(self, obj: FilingExport) -> str:
        if not obj.file:
            return "—"
        return format_html(
            '<a href="{}">{}</a>', reverse("admin:filing_filingexport_download", args=[obj.pk]), gettext("download")
        )

    def download_view(self, request: HttpRequest, pk: int) -> HttpResponseBase:
        export = get_object_or_404(FilingExport, pk=pk)
        if not self.has_view_permission(request, export) or not export.file:
            raise PermissionDenied
        name = export.file.name or ""
        try:
            return stored_file_response(name=name, filename=name.rsplit("/", 1)[-1])
        except FileNotFoundError:
            raise Http404 from None

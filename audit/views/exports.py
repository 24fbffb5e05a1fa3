"""Exports: starting one (sent at once when small, in any format), the list of one's own, the file and its manifest."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from audit import selectors
from audit.exports import CONTENT_TYPES, export_create, export_file_name, export_run, export_start, export_stream
from audit.models import Export
from audit.views.common import auditor_page, can_read_content, filters_or_error
from genai_platform.object_storage import stored_file_response
from genai_platform.roles import Role, role_required


@require_POST
@role_required(Role.AUDITOR)
def export_new(request: HttpRequest) -> HttpResponse:
    if not request.user.has_perm("audit.export_logentry"):
        raise PermissionDenied
    filters, error = filters_or_error(request.POST)
    fmt = request.POST.get("format", "")
    if error or fmt not in CONTENT_TYPES:
        messages.error(request, error or _("Choose CSV, JSONL or XLSX."))
        return redirect("audit:log")
    include_content = request.POST.get("content") == "1"
    if include_content and not can_read_content(request):
        raise PermissionDenied
    export = export_create(
        user=request.user,
        fmt=fmt,
        filters=filters,
        pseudonymise=request.POST.get("pseudonymise", "1") == "1",
        include_content=include_content,
    )
    small = settings.AUDIT_EXPORT_XLSX_STREAM_MAX_ROWS if fmt == "xlsx" else settings.AUDIT_EXPORT_STREAM_MAX_ROWS
    if (export.rows_total or 0) > small:
        export_start(export=export)
        return redirect("audit:export-detail", export_id=export.id)
    # Small: the file comes back in this response, and is listed with its manifest like a background export.
    response: HttpResponseBase
    if fmt == "xlsx":
        # A workbook is complete only at its end: written here as the worker would write it, then sent.
        try:
            export_run(export_id=str(export.id))
        except Exception:  # export_run logged it and marked the export failed; its page says why
            return redirect("audit:export-detail", export_id=export.id)
        export.refresh_from_db()
        response = _stored_file(export)
    else:
        response = StreamingHttpResponse(export_stream(export=export), content_type=CONTENT_TYPES[fmt])
        response["Content-Disposition"] = f'attachment; filename="{export_file_name(export)}"'
    response["X-Audit-Export-Id"] = str(export.id)
    response["X-Audit-Manifest"] = request.build_absolute_uri(f"/audit/exports/{export.id}/manifest.json")
    return response  # type: ignore[return-value]  # role_required is typed for HttpResponse


def _stored_file(export: Export) -> HttpResponseBase:
    """The finished export's file, streamed through the storage API (or redirected to a short-lived presigned URL
    of the bucket with ``GENAI_DOWNLOAD_REDIRECT``)."""
    if export.status != Export.Status.DONE or not export.file_name:
        raise Http404
    try:
        return stored_file_response(name=export.file_name, filename=export_file_name(export))
    except FileNotFoundError:
        raise Http404 from None


def _own_export(request: HttpRequest, export_id: Any) -> Export:
    export = get_object_or_404(Export, pk=export_id)
    if export.created_by_id != str(request.user.pk) and not request.user.is_superuser:
        raise Http404
    return export


@auditor_page
def export_list(request: HttpRequest) -> HttpResponse:
    exports = Export.objects.filter(created_by_id=str(request.user.pk)).order_by("-created_at")[:50]
    return render(request, "audit/export_list.html", {"exports": exports, "status": selectors.integrity_status()})


@auditor_page
def export_detail(request: HttpRequest, export_id: Any) -> HttpResponse:
    export = _own_export(request, export_id)
    running = export.status in (Export.Status.QUEUED, Export.Status.RUNNING)
    return render(request, "audit/export_detail.html", {"export": export, "running": running})


@require_GET
@role_required(Role.AUDITOR)
def export_download(request: HttpRequest, export_id: Any) -> HttpResponse:
    return _stored_file(_own_export(request, export_id))  # type: ignore[return-value]  # typed for HttpResponse


@require_GET
@role_required(Role.AUDITOR)
def export_manifest(request: HttpRequest, export_id: Any) -> HttpResponse:
    export = _own_export(request, export_id)
    if not export.manifest:
        raise Http404
    response = JsonResponse(export.manifest, json_dumps_params={"ensure_ascii": False, "indent": 1})
    response["Content-Disposition"] = f'attachment; filename="{export_file_name(export)}.manifest.json"'
    return response

"""Auditor pages under /audit/: the log with filters, a record with its seal and proof, dashboards, exports.

Every page needs the ``auditor`` role (others get 403, anonymous users the login page), except the
public key, which anyone may fetch to check seals, manifests and exports.
"""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import cache_control, never_cache
from django.views.decorators.http import require_GET, require_POST

from audit import charts, integrity, selectors, services
from audit.catalogue import EVENT_TYPES
from audit.exports import CONTENT_TYPES, export_create, export_file_name, export_start, export_stream
from audit.models import Content, Decision, Export, LogEntry
from audit.selectors import FilterError, LogFilters
from audit.verification import record_proof
from genai_platform.roles import Role, role_required

PAGE_SIZE = 50


def _filters_or_error(data: Any) -> tuple[LogFilters, str]:
    try:
        return LogFilters.from_mapping(data), ""
    except FilterError as exc:
        return LogFilters(), str(exc)


def _can_read_content(request: HttpRequest) -> bool:
    return bool(request.user.has_perm("audit.read_content"))


@never_cache
@require_GET
@role_required(Role.AUDITOR)
def log_list(request: HttpRequest) -> HttpResponse:
    filters, error = _filters_or_error(request.GET)
    qs = filters.queryset().order_by("-seq")
    before = request.GET.get("before", "")
    if before.isdigit():
        qs = qs.filter(seq__lt=int(before))
    entries = list(qs[: PAGE_SIZE + 1])
    more = len(entries) > PAGE_SIZE
    entries = entries[:PAGE_SIZE]
    query = filters.as_dict()
    context = {
        "entries": entries,
        "filters": filters,
        "filter_error": error,
        "event_types": sorted(EVENT_TYPES),
        "families": sorted({name.split(".")[0] + ".*" for name in EVENT_TYPES}),
        "decisions": [d for d in Decision if d.value],
        "query": urlencode(query),
        "next_query": urlencode(query | {"before": entries[-1].seq}) if more and entries else "",
        "status": selectors.integrity_status(),
        "can_read_content": _can_read_content(request),
        "stream_max_rows": settings.AUDIT_EXPORT_STREAM_MAX_ROWS,
    }
    return render(request, "audit/log_list.html", context, status=400 if error else 200)


@never_cache
@require_GET
@role_required(Role.AUDITOR)
def record_detail(request: HttpRequest, seq: int) -> HttpResponse:
    entry = get_object_or_404(LogEntry, seq=seq)
    proof = record_proof(entry)
    contents: dict[str, Content | None] = {}
    if _can_read_content(request):
        for side in ("input", "output"):
            digest = getattr(entry, f"{side}_sha256")
            contents[side] = Content.objects.filter(digest=digest).first() if digest else None
    context = {
        "entry": entry,
        "payload": json.dumps(entry.payload_data, ensure_ascii=False, indent=2),
        "proof": proof,
        "contents": contents,
        "can_read_content": _can_read_content(request),
        "event": EVENT_TYPES.get(entry.event_type),
        "status": selectors.integrity_status(),
    }
    return render(request, "audit/record_detail.html", context)


@never_cache
@require_GET
@role_required(Role.AUDITOR)
def dashboards(request: HttpRequest) -> HttpResponse:
    since = timezone.now() - timedelta(days=30)
    per_day = selectors.requests_per_day(days=30)
    refusal = selectors.refusal_rate_by_category(since=since)
    latency = selectors.latency_percentiles(since=since)
    exports = selectors.exports_per_day(days=30)
    context = {
        "status": selectors.integrity_status(),
        "requests_chart": charts.bar_chart(
            [(day.strftime("%m-%d"), n) for day, n in per_day], title=_("Generation requests per day (30 days)")
        ),
        "refusal_chart": charts.bar_chart(
            [(category, rate * 100) for category, _n, rate in refusal],
            title=_("Refusal rate per risk category, percent of requests (30 days)"),
            value_format="{:.1f}%",
        ),
        "codes_chart": charts.bar_chart(
            selectors.top_risk_codes(since=since), title=_("Most matched risk codes (30 days)")
        ),
        "latency_chart": charts.bar_chart(
            [(k, v) for k, v in (latency or {}).items() if k != "count"],
            title=_("Job latency percentiles, ms (30 days)"),
            value_format="{:.0f}",
        ),
        "latency": latency,
        "exports_chart": charts.bar_chart(
            [(day.strftime("%m-%d"), n) for day, n in exports if n], title=_("Exports made per day (30 days)")
        ),
    }
    return render(request, "audit/dashboards.html", context)


@require_POST
@role_required(Role.AUDITOR)
def export_new(request: HttpRequest) -> HttpResponse:
    if not request.user.has_perm("audit.export_logentry"):
        raise PermissionDenied
    filters, error = _filters_or_error(request.POST)
    fmt = request.POST.get("format", "")
    if error or fmt not in CONTENT_TYPES:
        messages.error(request, error or _("Choose CSV, JSONL or XLSX."))
        return redirect("audit:log")
    include_content = request.POST.get("content") == "1"
    if include_content and not _can_read_content(request):
        raise PermissionDenied
    export = export_create(
        user=request.user,
        fmt=fmt,
        filters=filters,
        pseudonymise=request.POST.get("pseudonymise", "1") == "1",
        include_content=include_content,
    )
    if fmt != "xlsx" and (export.rows_total or 0) <= settings.AUDIT_EXPORT_STREAM_MAX_ROWS:
        response = StreamingHttpResponse(export_stream(export=export), content_type=CONTENT_TYPES[fmt])
        response["Content-Disposition"] = f'attachment; filename="{export_file_name(export)}"'
        response["X-Audit-Export-Id"] = str(export.id)
        response["X-Audit-Manifest"] = request.build_absolute_uri(f"/audit/exports/{export.id}/manifest.json")
        return response  # type: ignore[return-value]  # role_required is typed for HttpResponse
    export_start(export=export)
    return redirect("audit:export-detail", export_id=export.id)


def _own_export(request: HttpRequest, export_id: Any) -> Export:
    export = get_object_or_404(Export, pk=export_id)
    if export.created_by_id != str(request.user.pk) and not request.user.is_superuser:
        raise Http404
    return export


@never_cache
@require_GET
@role_required(Role.AUDITOR)
def export_list(request: HttpRequest) -> HttpResponse:
    exports = Export.objects.filter(created_by_id=str(request.user.pk)).order_by("-created_at")[:50]
    return render(request, "audit/export_list.html", {"exports": exports, "status": selectors.integrity_status()})


@never_cache
@require_GET
@role_required(Role.AUDITOR)
def export_detail(request: HttpRequest, export_id: Any) -> HttpResponse:
    export = _own_export(request, export_id)
    running = export.status in (Export.Status.QUEUED, Export.Status.RUNNING)
    return render(request, "audit/export_detail.html", {"export": export, "running": running})


@require_GET
@role_required(Role.AUDITOR)
def export_download(request: HttpRequest, export_id: Any) -> HttpResponse:
    export = _own_export(request, export_id)
    if export.status != Export.Status.DONE or not export.file_name:
        raise Http404
    try:
        stored = default_storage.open(export.file_name, "rb")
    except FileNotFoundError:
        raise Http404 from None
    return FileResponse(  # type: ignore[return-value]  # role_required is typed for HttpResponse
        stored, as_attachment=True, filename=export_file_name(export)
    )


@require_GET
@role_required(Role.AUDITOR)
def export_manifest(request: HttpRequest, export_id: Any) -> HttpResponse:
    export = _own_export(request, export_id)
    if not export.manifest:
        raise Http404
    response = JsonResponse(export.manifest, json_dumps_params={"ensure_ascii": False, "indent": 1})
    response["Content-Disposition"] = f'attachment; filename="{export_file_name(export)}.manifest.json"'
    return response


@require_POST
@role_required(Role.AUDITOR)
def verify_now(request: HttpRequest) -> HttpResponse:
    from kombu.exceptions import OperationalError

    from audit.tasks import verify_task

    try:
        verify_task.delay()
    except OperationalError:
        messages.error(request, _("The task queue cannot be reached; run manage.py audit_verify instead."))
    else:
        messages.info(request, _("Verification started; the banner shows its result when it ends."))
    return redirect("audit:log")


@require_GET
@cache_control(public=True, max_age=3600)
def public_key(request: HttpRequest) -> JsonResponse:
    """The Ed25519 key that verifies seals, purge records and export manifests (public)."""
    raw = services.public_key_raw()
    current = integrity.key_id(raw)
    return JsonResponse(
        {
            "algorithm": "Ed25519",
            "key_id": current,
            "public_key": services.public_key_b64(),
            "encoding": "base64 of the 32 raw public key bytes",
            # Earlier keys still verify the seals and manifests they signed.
            "previous_keys": [
                {"key_id": kid, "public_key": base64.b64encode(key).decode()}
                for kid, key in services.public_keys().items()
                if kid != current
            ],
        }
    )


@require_GET
@role_required(Role.AUDITOR)
def catalogue(request: HttpRequest) -> HttpResponse:
    """The event types and what each payload holds, as declared in ``audit.catalogue``."""
    # (event, [(key name, key)]) pairs: a payload key may be called "items", which templates misread.
    events = [(EVENT_TYPES[name], list(EVENT_TYPES[name].payload.items())) for name in sorted(EVENT_TYPES)]
    return render(request, "audit/catalogue.html", {"events": events, "status": None})

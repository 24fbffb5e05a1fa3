"""Auditor pages under /audit/: the log with filters, a record with its seal and proof, dashboards, exports.

Every page needs the ``auditor`` role (others get 403, anonymous users the login page), except the
public key, which anyone may fetch to check seals, manifests and exports.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import time as datetime_time
from datetime import timedelta
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import cache_control, never_cache
from django.views.decorators.http import require_GET, require_POST

from audit import charts, explorer, integrity, selectors, services
from audit.catalogue import EVENT_TYPES
from audit.exports import CONTENT_TYPES, export_create, export_file_name, export_start, export_stream
from audit.models import Content, Decision, Export, LogEntry
from audit.progress import verification_forget, verification_queued
from audit.selectors import FilterError, LogFilters
from audit.verification import record_proof
from genai_platform.roles import Role, role_required


def in_audit_time_zone(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Shows, and reads typed-in, times in AUDIT_TIME_ZONE on the auditors' pages."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        with timezone.override(settings.AUDIT_TIME_ZONE):
            return view(request, *args, **kwargs)

    return wrapped


def _filters_or_error(data: Any) -> tuple[LogFilters, str]:
    try:
        return LogFilters.from_mapping(data), ""
    except FilterError as exc:
        return LogFilters(), str(exc)


def _can_read_content(request: HttpRequest) -> bool:
    return bool(request.user.has_perm("audit.read_content"))


def _record_number(data: Any, name: str) -> int | None:
    value = str(data.get(name) or "").strip()
    if not value:
        return None
    if not value.isdigit():
        raise FilterError(_("%(name)s must be a record number") % {"name": name})
    return int(value)


def _range_query(time_range: explorer.TimeRange, typed_end: bool) -> dict[str, str]:
    """How the URL names the range: a preset stays relative to now, so a shared link means "the last hour"."""
    if time_range.preset != explorer.CUSTOM:
        return {"range": time_range.preset}
    query = {"range": explorer.CUSTOM, "time_from": explorer.local_text(time_range.start)}
    if typed_end:
        query["time_to"] = explorer.local_text(time_range.end)
    return query


def _bar_range(bar: explorer.Bar) -> dict[str, str]:
    return {
        "range": explorer.CUSTOM,
        "time_from": explorer.local_text(bar.start),
        "time_to": explorer.local_text(bar.end),
    }


def _bar_text(bar: explorer.Bar) -> str:
    start, end = timezone.localtime(bar.start), timezone.localtime(bar.end)
    if end.date() == start.date():
        tail = f"{end:%H:%M}"
    elif end.date() == start.date() + timedelta(days=1) and end.time() == datetime_time.min:
        tail = "24:00"
    else:
        tail = f"{end:%Y-%m-%d %H:%M}"
    return f"{start:%Y-%m-%d %H:%M}–{tail}"


@never_cache
@require_GET
@role_required(Role.AUDITOR)
@in_audit_time_zone
def log_list(request: HttpRequest) -> HttpResponse:
    errors = []
    try:
        time_range = explorer.time_range_from(request.GET)
    except FilterError as exc:
        errors.append(str(exc))
        time_range = explorer.time_range_from({})
    filters, error = _filters_or_error(request.GET.dict() | time_range.as_filters())
    if error:
        errors.append(error)
        filters = LogFilters(**time_range.as_filters())
    try:
        before = _record_number(request.GET, "before")
        after = _record_number(request.GET, "after")
    except FilterError as exc:
        errors.append(str(exc))
        before = after = None
    qs = filters.queryset()
    page = explorer.log_page(qs, before=before, after=after, size=settings.AUDIT_LOG_PAGE_SIZE)
    bars = explorer.histogram(qs, time_range)

    # The view as a query string: filters and search, then the range; links change one part of it.
    kept = {k: v for k, v in filters.as_dict().items() if k not in ("time_from", "time_to")}
    view = kept | _range_query(time_range, typed_end=bool(request.GET.get("time_to")))
    context = {
        "entries": page.entries,
        "filters": filters,
        "filter_error": " ".join(errors),
        "event_types": sorted(EVENT_TYPES),
        "families": sorted({name.split(".")[0] + ".*" for name in EVENT_TYPES}),
        "decisions": [d for d in Decision if d.value],
        "time_range": time_range,
        "custom_from": explorer.local_text(time_range.start)[:16] if time_range.preset == explorer.CUSTOM else "",
        "custom_to": view.get("time_to", "")[:16],
        "presets": [
            (name, label, urlencode(kept | {"range": name}), name == time_range.preset)
            for name, (_span, label) in explorer.PRESETS.items()
        ],
        "zone": selectors.zone_label(),
        "histogram": charts.histogram_chart(
            [(_bar_text(bar), bar.count, "?" + urlencode(kept | _bar_range(bar))) for bar in bars],
            title=_("Matching records over the range"),
        ),
        "bar_rows": [(bar, _bar_text(bar), "?" + urlencode(kept | _bar_range(bar))) for bar in bars],
        "bar_max": max((bar.count for bar in bars), default=0),
        "bars": bars,
        "bars_total": sum(bar.count for bar in bars),
        "newest_query": urlencode(view) if before is not None or after is not None else "",
        "older_query": urlencode(view | {"before": page.older}) if page.older is not None else "",
        "newer_query": urlencode(view | {"after": page.newer}) if page.newer is not None else "",
        "status": selectors.integrity_status(),
        "can_read_content": _can_read_content(request),
        "stream_max_rows": settings.AUDIT_EXPORT_STREAM_MAX_ROWS,
    }
    return render(request, "audit/log_list.html", context, status=400 if errors else 200)


@never_cache
@require_GET
@role_required(Role.AUDITOR)
@in_audit_time_zone
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
@in_audit_time_zone
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
@in_audit_time_zone
def export_list(request: HttpRequest) -> HttpResponse:
    exports = Export.objects.filter(created_by_id=str(request.user.pk)).order_by("-created_at")[:50]
    return render(request, "audit/export_list.html", {"exports": exports, "status": selectors.integrity_status()})


@never_cache
@require_GET
@role_required(Role.AUDITOR)
@in_audit_time_zone
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
@in_audit_time_zone
def verify_now(request: HttpRequest) -> HttpResponse:
    """Starts a verification; the banner then follows it (htmx asks for the banner alone, and gets it)."""
    from kombu.exceptions import OperationalError

    from audit.tasks import verify_task

    notice = ""
    verification_queued()
    try:
        verify_task.delay()
    except OperationalError:
        verification_forget()
        notice = _("The task queue cannot be reached; run manage.py audit_verify instead.")
    if request.headers.get("HX-Request"):
        return _banner(request, notice=notice)
    if notice:
        messages.error(request, notice)
    else:
        messages.info(request, _("Verification started; the banner shows its result when it ends."))
    back = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return redirect(back)
    return redirect("audit:log")


def _banner(request: HttpRequest, *, notice: str = "") -> HttpResponse:
    return render(request, "audit/_banner.html", {"status": selectors.integrity_status(), "notice": notice})


@never_cache
@require_GET
@role_required(Role.AUDITOR)
@in_audit_time_zone
def integrity_banner(request: HttpRequest) -> HttpResponse:
    """The integrity banner alone: what it polls while a verification runs."""
    return _banner(request)


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

"""Auditor pages under /audit/: the log with filters, a record with its seal and proof, dashboards, exports.

Every page needs the ``auditor`` role (others get 403, anonymous users the login page), except the
public key, which anyone may fetch to check seals, manifests and exports.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import datetime, timedelta
from datetime import time as datetime_time
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import cache_control, never_cache
from django.views.decorators.http import require_GET, require_POST

from audit import charts, dashboard, explorer, integrity, selectors, services
from audit import trace as audit_trace
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
    for entry in page.entries:
        entry.trace = audit_trace.trace_of(entry)  # type: ignore[attr-defined]
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
        "trace": audit_trace.trace_of(entry),
    }
    return render(request, "audit/record_detail.html", context)


def _time_range_or_error(data: Any) -> tuple[explorer.TimeRange, str]:
    try:
        return explorer.time_range_from(data), ""
    except FilterError as exc:
        return explorer.time_range_from({}), str(exc)


def _log_link(stretch: explorer.TimeRange | tuple[datetime, datetime], **filters: str) -> str:
    """The log page filtered to ``filters`` over the page's range (a preset stays one) or a bar's ``(start, end)``."""
    if isinstance(stretch, explorer.TimeRange):
        if stretch.preset != explorer.CUSTOM:
            return reverse("audit:log") + "?" + urlencode(filters | {"range": stretch.preset})
        stretch = (stretch.start, stretch.end)
    span = _bar_range(explorer.Bar(start=stretch[0], end=stretch[1], count=0))
    return reverse("audit:log") + "?" + urlencode(filters | span)


def _seconds(ms: float | None) -> str:
    return "—" if ms is None else _("%(s)s s") % {"s": f"{ms / 1000:.2f}"}


def _time_panel(
    time_range: explorer.TimeRange,
    series: list[tuple[str, list[float | None], dict[str, str], str]],
    *,
    title: str,
    value_text: Callable[[float | None], str] = lambda v: "0" if not v else f"{v:g}",
    stacked: bool = True,
) -> dict[str, Any]:
    """A chart over time and the table behind it; ``series``: (label, value per bar, log filters, css name)."""
    spans = explorer.bar_spans(time_range)
    texts = [_bar_text(explorer.Bar(start=s, end=e, count=0)) for s, e in spans]
    columns = []
    rows = []
    for i, span in enumerate(spans):
        pieces = [
            (values[i], _log_link(span, **filters), f"{texts[i]}, {label}: {value_text(values[i])}")
            for label, values, filters, _css in series
        ]
        columns.append(pieces)
        rows.append((texts[i], [(value_text(value), link) for value, link, _d in pieces]))
    if stacked:
        top = max((sum(v or 0 for v in column) for column in zip(*(s[1] for s in series), strict=True)), default=0)
    else:
        top = max((v or 0 for s in series for v in s[1]), default=0)
    axis = charts.nice_top(top)
    return {
        "svg": charts.columns_chart(
            columns, title=title, top=axis, classes=[css for _l, _v, _f, css in series], stacked=stacked
        ),
        "axis_top": value_text(axis),
        "axis_mid": value_text(axis / 2),
        "legend": [(css, label) for label, _v, _f, css in series],
        "headers": [label for label, _v, _f, _c in series],
        "rows": rows,
        "empty": not top,
    }


def _bar_list(
    items: list[tuple[str, float, str]], *, value_text: Callable[[float], str] = lambda v: f"{v:g}"
) -> dict[str, Any]:
    """Horizontal bars (label, value, link) drawn as lengths relative to the axis maximum."""
    axis = charts.nice_top(max((value for _l, value, _k in items), default=0))
    return {
        "rows": [(label, value_text(value), link, round(100 * value / axis, 2)) for label, value, link in items],
        "axis_top": value_text(axis),
        "empty": not items,
    }


@never_cache
@require_GET
@role_required(Role.AUDITOR)
@in_audit_time_zone
def dashboards(request: HttpRequest) -> HttpResponse:
    """Every panel over one time range, chosen as on the log page; each bar opens the log narrowed to it."""
    time_range, error = _time_range_or_error(request.GET)
    figures = dashboard.figures(time_range)
    requests, refused, latency = figures.requests, figures.refusals, figures.latency
    exports, suspensions, complaints = figures.exports, figures.suspensions, figures.complaints
    accepted = sum(requests["generation.requested"])
    complaint_states = {
        dashboard.OVERDUE: _("Open and overdue"),
        dashboard.OPEN: _("Open, not yet due"),
        dashboard.ANSWERED_LATE: _("Answered after the due date"),
        dashboard.ANSWERED_ON_TIME: _("Answered by the due date"),
    }
    refusal_kinds = {
        dashboard.NOT_READY: _("Generator not ready"),
        dashboard.POLICY: _("Account or quota"),
        dashboard.UNRECORDED: _("Policy, reason not recorded (older records)"),
    }
    complaint_link = _log_link(time_range, event_type="complaint.received")
    context = {
        "status": selectors.integrity_status(),
        "range_error": error,
        "time_range": time_range,
        "zone": selectors.zone_label(),
        "custom_from": explorer.local_text(time_range.start)[:16] if time_range.preset == explorer.CUSTOM else "",
        "custom_to": explorer.local_text(time_range.end)[:16] if request.GET.get("time_to") else "",
        "presets": [
            (name, label, urlencode({"range": name}), name == time_range.preset)
            for name, (_span, label) in explorer.PRESETS.items()
        ],
        "requests": _time_panel(
            time_range,
            [
                (_("Accepted"), list(requests["generation.requested"]), {"event_type": "generation.requested"}, "s0"),
                (_("Refused"), list(requests["generation.refused"]), {"event_type": "generation.refused"}, "s1"),
            ],
            title=_("Generation requests over the range"),
        ),
        "requests_total": accepted + sum(requests["generation.refused"]),
        "accepted": accepted,
        "refused": refused,
        "refused_total": sum(refused.by_kind.values()),
        "content_rate": refused.rate(refused.content) * 100,
        "refusal_classes": _bar_list(
            [
                (
                    category,
                    refused.rate(n) * 100,
                    _log_link(time_range, event_type="generation.refused", risk_code=category + ".*"),
                )
                for category, n in refused.by_class
            ],
            value_text=lambda v: f"{v:.1f}%".replace(".0%", "%"),
        ),
        "refusal_class_rows": [
            (
                category,
                n,
                refused.rate(n) * 100,
                _log_link(time_range, event_type="generation.refused", risk_code=category + ".*"),
            )
            for category, n in refused.by_class
        ],
        "refusal_other": [
            (label, refused.by_kind[kind]) for kind, label in refusal_kinds.items() if refused.by_kind[kind]
        ],
        "refusal_reasons": [
            (
                code or _("not recorded"),
                n,
                _log_link(time_range, event_type="generation.refused", search=f'"reason_code":"{code}"')
                if code
                else _log_link(time_range, event_type="generation.refused"),
            )
            for code, n in refused.by_reason
        ],
        "codes": _bar_list([(code, n, _log_link(time_range, risk_code=code)) for code, n in figures.top_codes]),
        "latency": latency,
        "latency_p50": _seconds(latency.overall.p50),
        "latency_p95": _seconds(latency.overall.p95),
        "latency_chart": _time_panel(
            time_range,
            [
                (_("p95"), [p.p95 for p in latency.per_bar], {"event_type": "generation.succeeded"}, "s1"),
                (_("p50"), [p.p50 for p in latency.per_bar], {"event_type": "generation.succeeded"}, "s0"),
            ],
            title=_("Job latency over the range, seconds"),
            value_text=_seconds,
            stacked=False,
        ),
        "exports": _time_panel(
            time_range,
            [(_("Exports"), list(exports["audit.exported"]), {"event_type": "audit.exported"}, "s0")],
            title=_("Exports made over the range"),
        ),
        "exports_total": sum(exports["audit.exported"]),
        "complaints": complaints,
        "complaints_shown": complaints[: settings.AUDIT_DASHBOARD_TABLE_ROWS],
        "complaint_states": complaint_states,
        "complaint_bars": _bar_list(
            [
                (label, n, complaint_link)
                for state, label in complaint_states.items()
                if (n := sum(1 for c in complaints if c.state == state))
            ]
        ),
        "suspensions": _time_panel(
            time_range,
            [
                (_("Suspended"), list(suspensions["user.suspended"]), {"event_type": "user.suspended"}, "s1"),
                (_("Reinstated"), list(suspensions["user.reinstated"]), {"event_type": "user.reinstated"}, "s0"),
            ],
            title=_("Suspensions and reinstatements over the range"),
        ),
        "suspended_total": sum(suspensions["user.suspended"]),
        "reinstated_total": sum(suspensions["user.reinstated"]),
    }
    return render(request, "audit/dashboards.html", context, status=400 if error else 200)


def _object_link(request: HttpRequest, kind: str, ident: str) -> str:
    """The admin page of a subject, for staff who can open it ("" otherwise, or when it has none)."""
    if not request.user.is_staff or "." not in kind:
        return ""
    try:
        return reverse(f"admin:{kind.replace('.', '_')}_change", args=[ident])
    except NoReverseMatch:
        return ""


@never_cache
@require_GET
@role_required(Role.AUDITOR)
@in_audit_time_zone
def trace(request: HttpRequest, kind: str, ident: str) -> HttpResponse:
    """Every record about one job, output, complaint or filing record, in order, with its seal and proof."""
    if kind == audit_trace.OUTPUT:
        job = audit_trace.output_job(ident)
        if job:
            return redirect("audit:trace", kind=audit_trace.JOB, ident=job)
    if kind == audit_trace.JOB:
        entries = audit_trace.job_records(ident)
        subject = next((e for e in entries if e.subject_kind == audit_trace.JOB_SUBJECT), None)
        object_link = _object_link(request, subject.subject_kind, subject.subject_id) if subject else ""
    else:
        entries = audit_trace.subject_records(kind, ident)
        object_link = _object_link(request, kind, ident)
    if not entries:
        raise Http404(_("No audit record concerns this object."))
    context = {
        "kind": kind,
        "ident": ident,
        "steps": audit_trace.steps(entries),
        "object_link": object_link,
        "status": selectors.integrity_status(),
    }
    return render(request, "audit/trace.html", context)


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

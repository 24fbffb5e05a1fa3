"""The log with its filters and histogram, one record with its seal and proof, and the trace of one object."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _

from audit import charts, dashboard, explorer, selectors
from audit import trace as audit_trace
from audit.catalogue import EVENT_TYPES
from audit.models import Content, Decision, LogEntry
from audit.selectors import FilterError, LogFilters
from audit.verification import record_proof
from audit.views.common import auditor_page, bar_range, bar_text, can_read_content, filters_or_error


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


@auditor_page
def log_list(request: HttpRequest) -> HttpResponse:
    errors = []
    try:
        time_range = explorer.time_range_from(request.GET)
    except FilterError as exc:
        errors.append(str(exc))
        time_range = explorer.time_range_from({})
    filters, error = filters_or_error(request.GET.dict() | time_range.as_filters())
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
    bars = dashboard.log_histogram(filters, time_range)

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
            [(bar_text(bar), bar.count, "?" + urlencode(kept | bar_range(bar))) for bar in bars],
            title=_("Matching records over the range"),
        ),
        "bar_rows": [(bar, bar_text(bar), "?" + urlencode(kept | bar_range(bar))) for bar in bars],
        "bar_max": max((bar.count for bar in bars), default=0),
        "bars": bars,
        "bars_total": sum(bar.count for bar in bars),
        "newest_query": urlencode(view) if before is not None or after is not None else "",
        "older_query": urlencode(view | {"before": page.older}) if page.older is not None else "",
        "newer_query": urlencode(view | {"after": page.newer}) if page.newer is not None else "",
        "status": selectors.integrity_status(),
        "can_read_content": can_read_content(request),
        "stream_max_rows": settings.AUDIT_EXPORT_STREAM_MAX_ROWS,
    }
    return render(request, "audit/log_list.html", context, status=400 if errors else 200)


@auditor_page
def record_detail(request: HttpRequest, seq: int) -> HttpResponse:
    entry = get_object_or_404(LogEntry, seq=seq)
    proof = record_proof(entry)
    contents: dict[str, Content | None] = {}
    if can_read_content(request):
        for side in ("input", "output"):
            digest = getattr(entry, f"{side}_sha256")
            contents[side] = Content.objects.filter(digest=digest).first() if digest else None
    context = {
        "entry": entry,
        "payload": json.dumps(entry.payload_data, ensure_ascii=False, indent=2),
        "proof": proof,
        "contents": contents,
        "can_read_content": can_read_content(request),
        "event": EVENT_TYPES.get(entry.event_type),
        "status": selectors.integrity_status(),
        "trace": audit_trace.trace_of(entry),
    }
    return render(request, "audit/record_detail.html", context)


def _object_link(request: HttpRequest, kind: str, ident: str) -> str:
    """The admin page of a subject, for staff who can open it ("" otherwise, or when it has none)."""
    if not request.user.is_staff or "." not in kind:
        return ""
    try:
        return reverse(f"admin:{kind.replace('.', '_')}_change", args=[ident])
    except NoReverseMatch:
        return ""


@auditor_page
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

"""The dashboards: every panel over one time range, each bar a link to the log narrowed to it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _

from audit import charts, dashboard, explorer, selectors
from audit.selectors import FilterError
from audit.services import rollups_fold
from audit.views.common import auditor_page, bar_range, bar_text


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
    span = bar_range(explorer.Bar(start=stretch[0], end=stretch[1], count=0))
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
    texts = [bar_text(explorer.Bar(start=s, end=e, count=0)) for s, e in spans]
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


@auditor_page
def dashboards(request: HttpRequest) -> HttpResponse:
    """Every panel over one time range, chosen as on the log page; each bar opens the log narrowed to it."""
    time_range, error = _time_range_or_error(request.GET)
    # The records written since the last fold, up to a bound; any left are read from the log.
    rollups_fold(limit=settings.AUDIT_ROLLUP_INLINE_MAX_RECORDS)
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

"""What the auditors' pages share: who may read them, their time zone, reading filters, how a bar is named."""

from __future__ import annotations

from collections.abc import Callable
from datetime import time as datetime_time
from datetime import timedelta
from functools import wraps
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from audit import explorer
from audit.selectors import FilterError, LogFilters
from genai_platform.roles import Role, role_required


def in_audit_time_zone(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Shows, and reads typed-in, times in AUDIT_TIME_ZONE on the auditors' pages."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        with timezone.override(settings.AUDIT_TIME_ZONE):
            return view(request, *args, **kwargs)

    return wrapped


def auditor_page(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponseBase]:
    """A page auditors read (GET only, never cached, the ``auditor`` role), its times in AUDIT_TIME_ZONE."""
    return never_cache(require_GET(role_required(Role.AUDITOR)(in_audit_time_zone(view))))


def filters_or_error(data: Any) -> tuple[LogFilters, str]:
    try:
        return LogFilters.from_mapping(data), ""
    except FilterError as exc:
        return LogFilters(), str(exc)


def can_read_content(request: HttpRequest) -> bool:
    return bool(request.user.has_perm("audit.read_content"))


def bar_range(bar: explorer.Bar) -> dict[str, str]:
    return {
        "range": explorer.CUSTOM,
        "time_from": explorer.local_text(bar.start),
        "time_to": explorer.local_text(bar.end),
    }


def bar_text(bar: explorer.Bar) -> str:
    start, end = timezone.localtime(bar.start), timezone.localtime(bar.end)
    if end.date() == start.date():
        tail = f"{end:%H:%M}"
    elif end.date() == start.date() + timedelta(days=1) and end.time() == datetime_time.min:
        tail = "24:00"
    else:
        tail = f"{end:%Y-%m-%d %H:%M}"
    return f"{start:%Y-%m-%d %H:%M}–{tail}"

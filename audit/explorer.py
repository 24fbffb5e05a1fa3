"""Reads behind the auditors' log page: its time range, the histogram of matching records, and keyset pages.

Times typed in or shown are in ``settings.AUDIT_TIME_ZONE`` (the views make it the current zone). Pages
are windows of sequence numbers read newest first, ``LIMIT page size + 1``: a page costs the same on the
first day and at ten million records, and nothing counts the whole log.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import Count, IntegerField, Max, QuerySet
from django.db.models.expressions import RawSQL
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from audit.models import LogEntry
from audit.selectors import FilterError

# The quick ranges, newest records back to now minus the span, in the order the page lists them.
PRESETS: dict[str, tuple[timedelta, Any]] = {
    "15m": (timedelta(minutes=15), gettext_lazy("Last 15 minutes")),
    "1h": (timedelta(hours=1), gettext_lazy("Last hour")),
    "24h": (timedelta(hours=24), gettext_lazy("Last 24 hours")),
    "7d": (timedelta(days=7), gettext_lazy("Last 7 days")),
    "30d": (timedelta(days=30), gettext_lazy("Last 30 days")),
}
CUSTOM = "custom"

# Bar widths of the histogram, in seconds; the smallest that keeps to AUDIT_HISTOGRAM_MAX_BARS is used.
BAR_WIDTHS = (60, 5 * 60, 15 * 60, 3600, 3 * 3600, 6 * 3600, 86400, 7 * 86400, 30 * 86400)

# The form of times in links and in the custom range's inputs (what <input type="datetime-local"> sends).
LOCAL_FORMAT = "%Y-%m-%dT%H:%M:%S"


@dataclass(frozen=True)
class TimeRange:
    """``start`` (included) to ``end`` (excluded); ``preset`` names a quick range, or is ``CUSTOM``."""

    start: datetime
    end: datetime
    preset: str

    @property
    def label(self) -> str:
        return str(PRESETS[self.preset][1]) if self.preset in PRESETS else _("Custom range")

    def as_filters(self) -> dict[str, str]:
        """``time_from`` / ``time_to`` with their offset, read the same in any zone (exports run in workers)."""
        return {"time_from": self.start.isoformat(), "time_to": self.end.isoformat()}


def local_text(moment: datetime) -> str:
    return timezone.localtime(moment).strftime(LOCAL_FORMAT)


def _local_moment(value: str, label: str) -> datetime:
    try:
        parsed = parse_datetime(value)
    except ValueError:
        parsed = None
    if parsed is None:
        raise FilterError(
            _("%(label)s is not a date and time such as 2026-03-01T09:30: %(value)s") % {"label": label, "value": value}
        )
    return parsed if timezone.is_aware(parsed) else timezone.make_aware(parsed)


def time_range_from(data: Any, *, now: datetime | None = None) -> TimeRange:
    """The range a request asks for: ``range`` (a preset or ``custom``) with ``time_from`` / ``time_to``.

    No ``range`` and no times: the default preset. Times without ``range`` are a custom range. A custom
    range without an end runs to now. Raises ``FilterError`` with a sentence for the form.
    """
    now = now or timezone.now()
    preset = str(data.get("range") or "").strip()
    time_from = str(data.get("time_from") or "").strip()
    time_to = str(data.get("time_to") or "").strip()
    if not preset:
        preset = CUSTOM if (time_from or time_to) else settings.AUDIT_LOG_DEFAULT_RANGE
    if preset in PRESETS:
        return TimeRange(start=now - PRESETS[preset][0], end=now, preset=preset)
    if preset != CUSTOM:
        raise FilterError(_("Unknown time range: %(value)s") % {"value": preset})
    if not time_from:
        raise FilterError(_("Give the start of the custom range."))
    start = _local_moment(time_from, _("From"))
    end = _local_moment(time_to, _("To")) if time_to else now
    if end <= start:
        raise FilterError(_("The range must end after it starts."))
    return TimeRange(start=start, end=end, preset=CUSTOM)


# ------------------------------------------------------------------------------
# Histogram
# ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Bar:
    start: datetime
    end: datetime
    count: int


def bar_width(span: timedelta) -> int:
    """Seconds per bar: the smallest width giving at most AUDIT_HISTOGRAM_MAX_BARS bars over ``span``."""
    seconds = span.total_seconds()
    for width in BAR_WIDTHS:
        if seconds / width <= settings.AUDIT_HISTOGRAM_MAX_BARS:
            return width
    return BAR_WIDTHS[-1]


def first_edge(start: datetime, width: int) -> datetime:
    """The bar edge at or before ``start``: bars line up with local midnight, whatever the range."""
    local = timezone.localtime(start)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    steps = int((local - midnight).total_seconds() // width)
    return midnight + timedelta(seconds=steps * width)


def _bar_index_sql(column: str) -> str:
    """SQL of a row's bar number by its time ``column`` (a constant name), from the first edge (epoch seconds) and
    the width, its two parameters."""
    if connection.vendor == "postgresql":
        # date_part is double precision; extract() is numeric, several times slower over millions of rows.
        return f"floor((date_part('epoch', {column}) - %s) / %s)::bigint"
    # SQLite keeps UTC text; strftime('%s') is its whole epoch seconds, so a bar edge (whole seconds) is exact.
    return f"(CAST(strftime('%%s', {column}) AS INTEGER) - %s) / %s"


def bar_sql(time_range: TimeRange, *, column: str = "created_at") -> tuple[RawSQL, datetime, int]:
    """The expression of a record's bar number over ``time_range``, the first bar's edge and the width in seconds;
    ``column``: the time column of another table's rows (the rollups' ``bucket``)."""
    width = bar_width(time_range.end - time_range.start)
    first = first_edge(time_range.start, width)
    bar = RawSQL(_bar_index_sql(column), (int(first.timestamp()), width), output_field=IntegerField())  # noqa: S611
    return bar, first, width


def bar_counts(qs: QuerySet[LogEntry], time_range: TimeRange, *by: str) -> tuple[QuerySet[Any], datetime, int]:
    """The query of ``(bar number, *by, records)`` rows, the first bar's edge and the bar width in seconds."""
    bar, first, width = bar_sql(time_range)
    return (
        qs.order_by().annotate(bar=bar).values_list("bar", *by).annotate(n=Count("*")).values_list("bar", *by, "n"),
        first,
        width,
    )


def bar_spans(time_range: TimeRange) -> list[tuple[datetime, datetime]]:
    """Every bar's ``(start, end)`` over ``time_range``, in order: the bar numbers are their indexes."""
    width = bar_width(time_range.end - time_range.start)
    spans = []
    edge = first_edge(time_range.start, width)
    while edge < time_range.end:
        following = edge + timedelta(seconds=width)
        spans.append((max(edge, time_range.start), min(following, time_range.end)))
        edge = following
    return spans


def histogram(qs: QuerySet[LogEntry], time_range: TimeRange) -> list[Bar]:
    """Matching records per bar over ``time_range`` (``qs`` already keeps to it), every bar listed, empty or not."""
    counts = dict(bar_counts(qs, time_range)[0])
    return [Bar(start=start, end=end, count=counts.get(i, 0)) for i, (start, end) in enumerate(bar_spans(time_range))]


# ------------------------------------------------------------------------------
# Keyset pages
# ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Page:
    """Records newest first; ``older`` and ``newer`` are the sequence numbers the links carry (None: no link)."""

    entries: list[LogEntry]
    older: int | None
    newer: int | None


def _nearest(qs: QuerySet[LogEntry], *, older: bool, bound: int | None, size: int) -> list[LogEntry]:
    """The ``size + 1`` matching records nearest ``bound`` (excluded) going older or newer; no bound: the newest.

    They are looked for first among the AUDIT_LOG_PAGE_WINDOW numbers next to the bound, which costs the
    same whatever the log's size; only when fewer match there is the rest of the log searched. Without the
    window a common word would be checked in every record holding it (through the search index) before
    the newest few are kept.
    """
    window = settings.AUDIT_LOG_PAGE_WINDOW
    if older:
        start = bound if bound is not None else (LogEntry.objects.aggregate(top=Max("seq"))["top"] or 0) + 1
        everything, order = qs.filter(seq__lt=start), "-seq"
        near = everything.filter(seq__gte=start - window)
    else:
        assert bound is not None
        everything, order = qs.filter(seq__gt=bound), "seq"
        near = everything.filter(seq__lte=bound + window)
    rows = list(near.order_by(order)[: size + 1])
    if len(rows) > size:
        return rows
    return list(everything.order_by(order)[: size + 1])


def log_page(qs: QuerySet[LogEntry], *, before: int | None = None, after: int | None = None, size: int) -> Page:
    """The page of ``size`` records before ``before`` (older ones), or after ``after`` (newer ones), or the newest.

    Each link carries the number of the record at the page's edge, and pages are cut by ``seq <`` / ``seq >``
    it, so walking older then newer meets every record once, whatever was written in between. The way
    travelled is known to go on when a page holds one record more than it shows; the way back is offered
    whenever the page was reached by a link.
    """
    if after is not None:
        rows = _nearest(qs, older=False, bound=after, size=size)
        more = len(rows) > size
        entries = rows[:size][::-1]
        return Page(
            entries=entries,
            older=entries[-1].seq if entries else after + 1,
            newer=entries[0].seq if more else None,
        )
    rows = _nearest(qs, older=True, bound=before, size=size)
    more = len(rows) > size
    entries = rows[:size]
    newer = None
    if before is not None:
        newer = entries[0].seq if entries else before - 1
    return Page(entries=entries, older=entries[-1].seq if more else None, newer=newer)

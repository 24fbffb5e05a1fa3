"""Reads behind the auditors' dashboard: each panel's figures over one time range (``explorer.TimeRange``).

Counts say what they count. A request is one record (``generation.requested`` when accepted,
``generation.refused`` when not); a finished job is one job however many outputs it made (each output is a
``generation.succeeded`` record of its own); the rest count records. The database groups; Python only splits
the few distinct risk-code lists and reason codes it returns, so a panel costs one grouped query.

Rollups (``audit.models.Rollup``, kept by ``audit.services.rollups_fold``) hold the same counts per quarter hour.
When the range's bars are whole quarter hours (bars of 15 minutes or wider, which ranges over about 8 hours have),
the whole quarter hours inside the range are read from them, and only the partial quarter hours at the range's
edges and the records not folded yet from the log (``Split``): every count is the same as from the log alone. Job
latency percentiles are then estimated from the latency classes the rollups keep (``LATENCY_RATIO`` wide): within
9.1% of the exact figure (within 10 ms below 10 ms). A job counts once, in the bar of its first finished record;
one whose outputs' records fall on both sides of a fold or of the range's partial edge (they are written in one
transaction, milliseconds apart) would count on each side.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import Count, FloatField, Min, Q, QuerySet, Sum, TextField
from django.db.models.expressions import RawSQL
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from audit import explorer
from audit.explorer import TimeRange
from audit.models import LogEntry, Rollup, RollupState
from audit.selectors import LogFilters

REQUEST_EVENTS = ("generation.requested", "generation.refused")
FINISHED_EVENTS = ("generation.succeeded", "generation.failed", "generation.output_blocked")
EXPORT_EVENTS = ("audit.exported",)
SUSPENSION_EVENTS = ("user.suspended", "user.reinstated")
COMPLAINT_SUBJECT = "filing.complaint"
PERCENTILES = (0.5, 0.95)

# What a refusal was for, from its payload's ``reason_code`` (see the catalogue's ``generation.refused``).
CONTENT = "content"  # the content checks refused the input: the only kind a refusal rate counts
NOT_READY = "not_ready"  # the generator could not serve (no net passed the gate, model not approved, stopped, busy)
POLICY = "policy"  # the account or the quota: the user may not generate now
UNRECORDED = "unrecorded"  # a policy refusal written before reason codes were
NOT_READY_CODES = frozenset({"net_not_ready", "model_not_approved", "service_not_open", "stopped", "busy"})


def refusal_kind(reason_code: str | None, stage: str | None, risk_codes: str) -> str:
    """The kind of a ``generation.refused`` record; records older than ``reason_code`` are read by their stage."""
    if reason_code:
        if reason_code == CONTENT:
            return CONTENT
        return NOT_READY if reason_code in NOT_READY_CODES else POLICY
    if stage == "input_moderation" or (not stage and risk_codes):
        return CONTENT
    return UNRECORDED


def risk_class(code: str) -> str:
    """``A.1`` for ``A.1.6``: the first two parts of a risk code."""
    return ".".join(code.split(".")[:2])


def payload_text(key: str) -> RawSQL:
    """The string value of a top-level payload key, read by the database (NULL when absent)."""
    if connection.vendor == "postgresql":
        # The payload is JSON text with the quotes inside values escaped, so the key's pattern cannot match a value.
        return RawSQL("substring(payload from %s)", (f'"{key}"\\s*:\\s*"([^"]*)"',), output_field=TextField())  # noqa: S611
    return RawSQL("json_extract(payload, %s)", (f"$.{key}",), output_field=TextField())  # noqa: S611


def payload_number(key: str) -> RawSQL:
    if connection.vendor == "postgresql":
        sql = "CAST(substring(payload from %s) AS double precision)"
        return RawSQL(sql, (f'"{key}"\\s*:\\s*(-?[0-9.]+(?:[eE][-+]?[0-9]+)?)',), output_field=FloatField())  # noqa: S611
    return RawSQL("CAST(json_extract(payload, %s) AS REAL)", (f"$.{key}",), output_field=FloatField())  # noqa: S611


def in_range(time_range: TimeRange) -> QuerySet[LogEntry]:
    return LogEntry.objects.filter(created_at__gte=time_range.start, created_at__lt=time_range.end)


# ------------------------------------------------------------------------------
# Rollups: quarter hours and latency classes
# ------------------------------------------------------------------------------
BUCKET_SECONDS = 15 * 60
# Latency classes: 0 below LATENCY_FIRST_MS, then k >= 1 from LATENCY_FIRST_MS * LATENCY_RATIO ** (k - 1) up to
# (excluded) the next bound; the last, LATENCY_LAST, has no upper bound (above 10,485,760 ms, about 2.9 hours).
# They define stored counts: changing them needs the rollups emptied and folded again.
LATENCY_FIRST_MS = 10.0
LATENCY_RATIO = 2 ** (1 / 8)
LATENCY_LAST = 160


def bucket_start(moment: datetime) -> datetime:
    """The start (UTC) of the quarter hour ``moment`` lies in."""
    return datetime.fromtimestamp(math.floor(moment.timestamp() / BUCKET_SECONDS) * BUCKET_SECONDS, UTC)


def latency_bucket(ms: float | None) -> int:
    """The latency class of ``ms`` milliseconds; -1 for no latency."""
    if ms is None:
        return -1
    if ms < LATENCY_FIRST_MS:
        return 0
    return min(LATENCY_LAST, 1 + math.floor(math.log(ms / LATENCY_FIRST_MS) / math.log(LATENCY_RATIO)))


def latency_bucket_sql(column: str) -> str:
    """``latency_bucket`` in SQL, of a double precision ``column`` (a constant name, never user input)."""
    return (
        f"(CASE WHEN {column} IS NULL THEN -1 WHEN {column} < {LATENCY_FIRST_MS!r} THEN 0 "
        f"ELSE least({LATENCY_LAST}, 1 + floor(ln({column} / {LATENCY_FIRST_MS!r}) / ln({LATENCY_RATIO!r})))::int END)"
    )


def latency_bounds(bucket: int) -> tuple[float, float]:
    """The milliseconds a latency class covers: ``(low, high)``."""
    if bucket <= 0:
        return 0.0, LATENCY_FIRST_MS
    return LATENCY_FIRST_MS * LATENCY_RATIO ** (bucket - 1), LATENCY_FIRST_MS * LATENCY_RATIO**bucket


def histogram_percentile(counts: dict[int, int], fraction: float) -> float | None:
    """``percentile`` estimated from job counts per latency class (-1, no latency, left out): each class's jobs
    are taken as spread evenly over it, so the estimate lies in the class of the exact value."""
    classes = sorted((b, n) for b, n in counts.items() if b >= 0 and n > 0)
    total = sum(n for _b, n in classes)
    if not total:
        return None

    def value(rank: int) -> float:
        before = 0
        for bucket, n in classes:
            if rank < before + n:
                low, high = latency_bounds(bucket)
                return low + (rank - before + 0.5) / n * (high - low)
            before += n
        raise AssertionError(rank)

    position = fraction * (total - 1)
    low = math.floor(position)
    high = min(low + 1, total - 1)
    return value(low) + (value(high) - value(low)) * (position - low)


@dataclass(frozen=True)
class Split:
    """Where the figures of a range come from: ``rolled`` the rollup rows of its whole quarter hours (None: none
    used), ``raw`` the records read from the log (the rest of the range, and those not folded yet)."""

    time_range: TimeRange
    rolled: QuerySet[Rollup] | None
    raw: QuerySet[LogEntry]

    def rolled_by_bar(self) -> QuerySet[Any]:
        """The rollup rows with ``bar``: the number of the bar their quarter hour lies in."""
        assert self.rolled is not None
        return self.rolled.order_by().annotate(bar=explorer.bar_sql(self.time_range, column="bucket")[0])


def split(time_range: TimeRange, *, rolled: bool = True) -> Split:
    """The quarter hours of ``time_range`` read from the rollups, and the records read from the log."""
    everything = Split(time_range=time_range, rolled=None, raw=in_range(time_range))
    state = RollupState.objects.filter(id=1).first() if rolled else None
    if state is None or not state.folded_to:
        return everything
    width = explorer.bar_width(time_range.end - time_range.start)
    first = explorer.first_edge(time_range.start, width)
    if width % BUCKET_SECONDS or first.timestamp() % BUCKET_SECONDS:
        return everything  # bars narrower than a quarter hour, or not on quarter hours (the zone's offset)
    start = max(time_range.start, state.raw_before) if state.raw_before else time_range.start
    low = bucket_start(start)
    if low < start:
        low += timedelta(seconds=BUCKET_SECONDS)
    high = bucket_start(time_range.end)
    if high <= low:
        return everything
    return Split(
        time_range=time_range,
        rolled=Rollup.objects.filter(bucket__gte=low, bucket__lt=high),
        raw=everything.raw.filter(Q(created_at__lt=low) | Q(created_at__gte=high) | Q(seq__gt=state.folded_to)),
    )


def counts_over_time(
    time_range: TimeRange, events: tuple[str, ...], *, part: Split | None = None
) -> dict[str, list[int]]:
    """Records of each of ``events`` per bar of ``explorer.bar_spans(time_range)``."""
    part = part or split(time_range, rolled=False)
    bars = len(explorer.bar_spans(time_range))
    series = {event: [0] * bars for event in events}
    query = explorer.bar_counts(part.raw.filter(event_type__in=events), time_range, "event_type")[0]
    rows = [(bar, event, n) for bar, event, n in query]
    if part.rolled is not None:
        rolled = (
            part.rolled_by_bar()
            .filter(event_type__in=events)
            .values_list("bar", "event_type")
            .annotate(n=Sum("records"))
        )
        rows += list(rolled)
    for bar, event, n in rows:
        if 0 <= bar < bars:
            series[event][bar] += n
    return series


def log_histogram(filters: LogFilters, time_range: TimeRange) -> list[explorer.Bar]:
    """The log page's histogram (``explorer.histogram``) of the records ``filters`` match over ``time_range``; from
    the rollups where they serve when the filters name at most an event type (or family), else from the log."""
    if set(filters.as_dict()) - {"time_from", "time_to", "event_type"}:
        return explorer.histogram(filters.queryset(), time_range)
    part = split(time_range)
    pattern = filters.event_type
    of_type = (
        Q(event_type__startswith=pattern[:-1]) if pattern.endswith(".*") else Q(event_type=pattern) if pattern else Q()
    )
    counts = Counter(dict(explorer.bar_counts(part.raw.filter(of_type), time_range)[0]))
    if part.rolled is not None:
        rolled = part.rolled_by_bar().filter(of_type)
        counts.update(dict(rolled.values_list("bar").annotate(n=Sum("records")).values_list("bar", "n")))
    spans = explorer.bar_spans(time_range)
    return [explorer.Bar(start=start, end=end, count=counts.get(i, 0)) for i, (start, end) in enumerate(spans)]


# ------------------------------------------------------------------------------
# Refusals and risk codes
# ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Refusals:
    """``checked``: requests the content checks judged (accepted, or refused for content); the rates' base."""

    checked: int
    content: int
    by_class: list[tuple[str, int]]
    by_kind: dict[str, int]
    by_reason: list[tuple[str, int]]

    def rate(self, n: int) -> float:
        return n / self.checked if self.checked else 0.0


def refusals_query(
    time_range: TimeRange, *, part: Split | None = None
) -> QuerySet[Any, tuple[str | None, str | None, str, int]]:
    """``(reason code, stage, risk codes, records)`` of the refusals in the range read from the log."""
    return (
        (part or split(time_range, rolled=False))
        .raw.filter(event_type="generation.refused")
        .order_by()
        .annotate(code=payload_text("reason_code"), stage=payload_text("stage"))
        .values_list("code", "stage", "risk_codes")
        .annotate(n=Count("*"))
    )


def refusals(time_range: TimeRange, *, accepted: int, part: Split | None = None) -> Refusals:
    """Refusals in the range by kind and, for content refusals, by risk class; ``accepted`` requests in the range."""
    part = part or split(time_range, rolled=False)
    by_kind = {CONTENT: 0, NOT_READY: 0, POLICY: 0, UNRECORDED: 0}
    by_class: dict[str, int] = {}
    by_reason: dict[str, int] = {}
    rows: list[tuple[str | None, str | None, str, int]] = list(refusals_query(time_range, part=part))
    if part.rolled is not None:
        rows += list(
            part.rolled.filter(event_type="generation.refused")
            .order_by()
            .values_list("reason_code", "stage", "risk_codes")
            .annotate(n=Sum("records"))
        )
    for code, stage, codes, n in rows:
        kind = refusal_kind(code, stage, codes)
        by_kind[kind] += n
        if kind == CONTENT:
            for category in {risk_class(c) for c in codes.split(";") if c}:
                by_class[category] = by_class.get(category, 0) + n
        else:
            by_reason[code or ""] = by_reason.get(code or "", 0) + n
    return Refusals(
        checked=accepted + by_kind[CONTENT],
        content=by_kind[CONTENT],
        by_class=sorted(by_class.items(), key=lambda r: (-r[1], r[0])),
        by_kind=by_kind,
        by_reason=sorted(by_reason.items(), key=lambda r: (-r[1], r[0])),
    )


def top_risk_codes(time_range: TimeRange, *, part: Split | None = None) -> list[tuple[str, int]]:
    """The AUDIT_DASHBOARD_TOP_CODES risk codes named by the most records in the range, with their records."""
    part = part or split(time_range, rolled=False)
    rows = list(
        part.raw.exclude(risk_codes="")
        .order_by()
        .values_list("risk_codes")
        .annotate(n=Count("*"))
        .values_list("risk_codes", "n")
    )
    if part.rolled is not None:
        rows += list(part.rolled.exclude(risk_codes="").order_by().values_list("risk_codes").annotate(n=Sum("records")))
    counts: dict[str, int] = {}
    for codes, n in rows:
        for code in set(codes.split(";")) - {""}:
            counts[code] = counts.get(code, 0) + n
    return sorted(counts.items(), key=lambda r: (-r[1], r[0]))[: settings.AUDIT_DASHBOARD_TOP_CODES]


# ------------------------------------------------------------------------------
# Job latency
# ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Percentiles:
    jobs: int  # finished jobs
    timed: int  # of which with a latency recorded
    p50: float | None  # milliseconds
    p95: float | None


@dataclass(frozen=True)
class Latency:
    overall: Percentiles
    per_bar: list[Percentiles]
    outputs: int  # generation.succeeded records: one per output
    estimated: bool = False  # percentiles estimated from latency classes (rollups read)


def percentile(ordered: list[float], fraction: float) -> float | None:
    """Linear interpolation between the closest ranks (PostgreSQL's percentile_cont) of sorted values."""
    if not ordered:
        return None
    position = fraction * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _percentiles(latencies: list[float | None]) -> Percentiles:
    timed = sorted(v for v in latencies if v is not None)
    p50, p95 = (percentile(timed, f) for f in PERCENTILES)
    return Percentiles(jobs=len(latencies), timed=len(timed), p50=p50, p95=p95)


def _histogram_figures(counts: Counter[int]) -> Percentiles:
    p50, p95 = (histogram_percentile(counts, f) for f in PERCENTILES)
    timed = sum(n for b, n in counts.items() if b >= 0)
    return Percentiles(jobs=sum(counts.values()), timed=timed, p50=p50, p95=p95)


def _latency_estimated(part: Split, records: QuerySet[Any], outputs: int, bars: int) -> Latency:
    """Job counts per bar and latency class, from the rollups and from the records read from the log."""
    assert part.rolled is not None
    rows: list[tuple[int, int, int]] = []
    if connection.vendor == "postgresql":
        sql, params = records.query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute(
                f"WITH r(job, ms, bar) AS ({sql}), "  # noqa: S608 (the SQL is Django's and constant, values parameters)
                "jobs AS (SELECT job, max(ms) AS ms, min(bar) AS bar FROM r WHERE job IS NOT NULL GROUP BY job) "
                f"SELECT bar, {latency_bucket_sql('ms')}, count(*) FROM jobs GROUP BY 1, 2",
                params,
            )
            rows = [(int(bar), int(b), int(n)) for bar, b, n in cursor.fetchall()]
    else:
        jobs = _jobs_read(records)
        rows = [(index, latency_bucket(ms), 1) for ms, index in jobs.values()]
    finished = part.rolled.filter(event_type__in=FINISHED_EVENTS).order_by()
    outputs += finished.filter(event_type="generation.succeeded").aggregate(n=Sum("records"))["n"] or 0
    rolled = (
        part.rolled_by_bar()
        .filter(event_type__in=FINISHED_EVENTS, jobs__gt=0)
        .values_list("bar", "latency_bucket")
        .annotate(n=Sum("jobs"))
    )
    rows += list(rolled)
    overall: Counter[int] = Counter()
    per_bar: list[Counter[int]] = [Counter() for _ in range(bars)]
    for index, b, n in rows:
        overall[b] += n
        if 0 <= index < bars:
            per_bar[index][b] += n
    return Latency(
        overall=_histogram_figures(overall),
        per_bar=[_histogram_figures(c) for c in per_bar],
        outputs=outputs,
        estimated=True,
    )


def _jobs_read(records: QuerySet[Any]) -> dict[str, tuple[float | None, int]]:
    """``job id: (largest latency, first bar)`` of the finished records ``(job, ms, bar)``."""
    jobs: dict[str, tuple[float | None, int]] = {}
    for job, ms, index in records.iterator(chunk_size=5000):
        if job is None:
            continue
        known_ms, known_bar = jobs.get(job, (None, index))
        largest = ms if known_ms is None else known_ms if ms is None else max(ms, known_ms)
        jobs[job] = (largest, min(known_bar, index))
    return jobs


def latency(time_range: TimeRange, *, part: Split | None = None) -> Latency:
    """Per finished job (its records grouped by ``job_id``, the largest latency kept, in the bar it first
    finished in): p50 and p95 over the range and per bar."""
    part = part or split(time_range, rolled=False)
    bar = explorer.bar_sql(time_range)[0]
    finished = part.raw.filter(event_type__in=FINISHED_EVENTS)
    outputs = finished.filter(event_type="generation.succeeded").count()
    bars = len(explorer.bar_spans(time_range))
    records = (
        finished.order_by()
        .annotate(job=payload_text("job_id"), ms=payload_number("latency_ms"), bar=bar)
        .values_list("job", "ms", "bar")
    )
    if part.rolled is not None:
        return _latency_estimated(part, records, outputs, bars)
    empty = Percentiles(jobs=0, timed=0, p50=None, p95=None)
    if connection.vendor == "postgresql":
        sql, params = records.query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute(
                f"WITH r(job, ms, bar) AS ({sql}), "  # noqa: S608 (the SQL is Django's, the values are parameters)
                "jobs AS (SELECT job, max(ms) AS ms, min(bar) AS bar FROM r WHERE job IS NOT NULL GROUP BY job) "
                "SELECT bar, count(*), count(ms), percentile_cont(%s) WITHIN GROUP (ORDER BY ms), "
                "percentile_cont(%s) WITHIN GROUP (ORDER BY ms) FROM jobs GROUP BY ROLLUP (bar)",
                (*params, *PERCENTILES),
            )
            rows = cursor.fetchall()
        overall, per_bar = empty, [empty] * bars
        for index, count, timed, p50, p95 in rows:
            figures = Percentiles(jobs=count, timed=timed, p50=p50, p95=p95)
            if index is None:
                overall = figures
            elif 0 <= index < bars:
                per_bar[index] = figures
        return Latency(overall=overall, per_bar=per_bar, outputs=outputs)
    jobs = _jobs_read(records)
    grouped: list[list[float | None]] = [[] for _ in range(bars)]
    for ms, index in jobs.values():
        if 0 <= index < bars:
            grouped[index].append(ms)
    return Latency(
        overall=_percentiles([ms for ms, _i in jobs.values()]),
        per_bar=[_percentiles(values) for values in grouped],
        outputs=outputs,
    )


# ------------------------------------------------------------------------------
# Complaints against their due dates
# ------------------------------------------------------------------------------
ANSWERED_ON_TIME, ANSWERED_LATE, OPEN, OVERDUE = "answered_on_time", "answered_late", "open", "overdue"
COMPLAINT_STATES = (OVERDUE, OPEN, ANSWERED_LATE, ANSWERED_ON_TIME)


@dataclass(frozen=True)
class Complaint:
    subject_id: str
    subject_repr: str
    received: datetime
    due: datetime
    answered: datetime | None
    state: str


def complaints(time_range: TimeRange, *, now: datetime | None = None) -> list[Complaint]:
    """The complaints received in the range, most urgent first: overdue, open, answered late, answered on time.

    The due date is the one ``complaint.received`` recorded; records written before it was recorded are
    read as received + COMPLAINT_RESPONSE_DAYS. Answered: the first ``complaint.resolved`` of the complaint.
    """
    now = now or timezone.now()
    received = list(
        in_range(time_range)
        .filter(event_type="complaint.received", subject_kind=COMPLAINT_SUBJECT)
        .order_by("seq")
        .values_list("subject_id", "subject_repr", "created_at", "payload")
    )
    answered = dict(
        LogEntry.objects.filter(
            event_type="complaint.resolved",
            subject_kind=COMPLAINT_SUBJECT,
            subject_id__in=[r[0] for r in received],
        )
        .order_by()
        .values_list("subject_id")
        .annotate(first=Min("created_at"))
        .values_list("subject_id", "first")
    )
    rows = []
    for ident, text, when, payload in received:
        due = _due(payload) or when + timedelta(days=settings.COMPLAINT_RESPONSE_DAYS)
        done = answered.get(ident)
        if done is not None:
            state = ANSWERED_ON_TIME if done <= due else ANSWERED_LATE
        else:
            state = OVERDUE if due < now else OPEN
        rows.append(Complaint(ident, text, when, due, done, state))
    rows.sort(key=lambda c: (COMPLAINT_STATES.index(c.state), c.due))
    return rows


def _due(payload: str) -> datetime | None:
    try:
        value = json.loads(payload).get("due_at")
    except (TypeError, ValueError, AttributeError):
        return None
    parsed = parse_datetime(value) if isinstance(value, str) else None
    return parsed if parsed is not None and timezone.is_aware(parsed) else None


# ------------------------------------------------------------------------------
# The whole page
# ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Figures:
    requests: dict[str, list[int]]
    refusals: Refusals
    top_codes: list[tuple[str, int]]
    latency: Latency
    exports: dict[str, list[int]]
    suspensions: dict[str, list[int]]
    complaints: list[Complaint]


def figures(time_range: TimeRange, *, rolled: bool = True) -> Figures:
    """Every panel's figures over ``time_range``: what the dashboard reads, in one place (and what its benchmark
    times). ``rolled``: read the rollups where they serve (``split``); False reads the log alone."""
    part = split(time_range, rolled=rolled)
    requests = counts_over_time(time_range, REQUEST_EVENTS, part=part)
    return Figures(
        requests=requests,
        refusals=refusals(time_range, accepted=sum(requests["generation.requested"]), part=part),
        top_codes=top_risk_codes(time_range, part=part),
        latency=latency(time_range, part=part),
        exports=counts_over_time(time_range, EXPORT_EVENTS, part=part),
        suspensions=counts_over_time(time_range, SUSPENSION_EVENTS, part=part),
        complaints=complaints(time_range),
    )

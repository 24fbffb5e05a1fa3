"""Rollups of the log for the auditors' dashboard: records per quarter hour, counted by what its panels group on.

``rollups_fold`` adds the records numbered after the last one folded, up to a number below which no record can still
appear: on PostgreSQL the last sealed record, or every number given out when no transaction that may hold one is
still running (``sealing._numbers_settled``, without waiting); on SQLite, whose writers are serialised, the newest
committed record. The log is append-only, so a folded record never changes and is never folded again: the state row
moves in the same transaction as the counts. The dashboard (``audit.dashboard``) reads the rollups for the whole
quarter hours of its range and the log itself for the rest, and for the records not folded yet.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db import connection, transaction
from django.db.models import F

from audit import dashboard
from audit.models import LogEntry, Rollup, RollupState, Seal

_LOCK_KEY = 7370002  # the sealer's is 7370001
# A job's finished records are written in one transaction, so they lie within this many numbers of each other.
_JOB_RECORDS_SPAN = 1000

_FOLD_SQL_POSTGRESQL = """
WITH r AS (
    SELECT seq, to_timestamp(floor(date_part('epoch', created_at) / {bucket}) * {bucket}) AS bucket, event_type,
        CASE WHEN event_type = 'generation.refused' THEN left(coalesce(substring(payload from %(code)s), ''), 64)
             ELSE '' END AS reason_code,
        CASE WHEN event_type = 'generation.refused' THEN left(coalesce(substring(payload from %(stage)s), ''), 64)
             ELSE '' END AS stage,
        risk_codes,
        CASE WHEN event_type = ANY(%(finished)s) THEN substring(payload from %(job)s) END AS job,
        CASE WHEN event_type = ANY(%(finished)s)
             THEN CAST(substring(payload from %(ms)s) AS double precision) END AS ms
    FROM audit_logentry WHERE seq > %(low)s AND seq <= %(high)s
), jobs AS (
    SELECT job, min(seq) AS first, max(ms) AS ms FROM r WHERE job IS NOT NULL GROUP BY job
)
INSERT INTO audit_rollup (bucket, event_type, reason_code, stage, risk_codes, latency_bucket, records, jobs)
SELECT r.bucket, r.event_type, r.reason_code, r.stage, r.risk_codes, {latency}, count(*),
    count(*) FILTER (WHERE r.seq = j.first)
FROM r LEFT JOIN jobs AS j ON j.job = r.job
GROUP BY 1, 2, 3, 4, 5, 6
ON CONFLICT (bucket, event_type, reason_code, stage, risk_codes, latency_bucket)
DO UPDATE SET records = audit_rollup.records + EXCLUDED.records, jobs = audit_rollup.jobs + EXCLUDED.jobs
""".format(bucket=dashboard.BUCKET_SECONDS, latency=dashboard.latency_bucket_sql("j.ms"))  # noqa: S608 (constants)


def _text_pattern(key: str) -> str:
    return f'"{key}"\\s*:\\s*"([^"]*)"'


def _horizon(cursor: Any) -> int:
    """The highest number such that every record numbered up to it is committed (or will never be)."""
    if connection.vendor != "postgresql":
        cursor.execute("SELECT coalesce(max(seq), 0) FROM audit_logentry")
        return int(cursor.fetchone()[0])
    from audit.services.sealing import _numbers_settled

    sealed = Seal.objects.order_by("-number").values_list("last_seq", flat=True).first() or 0
    settled = _numbers_settled(cursor, timeout=0)
    return max(sealed, settled or 0)


def rollups_fold(*, limit: int | None = None) -> int:
    """Fold the records not yet in the rollups, at most ``limit`` sequence numbers of them; return how many records.

    Idempotent and safe to run from several processes: one folds at a time, another returns 0 at once
    (PostgreSQL) or waits its turn (SQLite) and then finds nothing left to fold.
    """
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [_LOCK_KEY])
            if not cursor.fetchone()[0]:
                return 0
        state, _made = RollupState.objects.select_for_update().get_or_create(id=1)
        low = state.folded_to
        horizon = _horizon(cursor)
        high = horizon if limit is None else min(horizon, low + limit)
        if high < horizon:
            high = _job_kept_whole(low, high, horizon)
        if high <= low:
            return 0
        if connection.vendor == "postgresql":
            cursor.execute(
                _FOLD_SQL_POSTGRESQL,
                {
                    "code": _text_pattern("reason_code"),
                    "stage": _text_pattern("stage"),
                    "job": _text_pattern("job_id"),
                    "ms": '"latency_ms"\\s*:\\s*(-?[0-9.]+(?:[eE][-+]?[0-9]+)?)',
                    "finished": list(dashboard.FINISHED_EVENTS),
                    "low": low,
                    "high": high,
                },
            )
            cursor.execute("SELECT count(*) FROM audit_logentry WHERE seq > %s AND seq <= %s", [low, high])
            folded = int(cursor.fetchone()[0])
        else:
            folded = _fold_orm(low, high)
        RollupState.objects.filter(id=1).update(folded_to=high)
        return folded


def _finished_jobs(low: int, high: int) -> list[tuple[str | None, int]]:
    return list(
        LogEntry.objects.filter(seq__gt=low, seq__lte=high, event_type__in=dashboard.FINISHED_EVENTS)
        .annotate(job=dashboard.payload_text("job_id"))
        .values_list("job", "seq")
    )


def _job_kept_whole(low: int, high: int, horizon: int) -> int:
    """``high``, or less so that no job's finished records are cut between this fold and the next (a job counts
    once, at its first record); unchanged when the job would fill the whole fold."""
    after = {job for job, _seq in _finished_jobs(high, min(horizon, high + _JOB_RECORDS_SPAN)) if job}
    if not after:
        return high
    cut = [seq for job, seq in _finished_jobs(max(low, high - _JOB_RECORDS_SPAN), high) if job in after]
    return min(cut) - 1 if cut and min(cut) - 1 > low else high


def _payload_value(data: Any, key: str) -> Any:
    return data.get(key) if isinstance(data, dict) else None


def _fold_orm(low: int, high: int) -> int:
    """SQLite: the same counts as the PostgreSQL statement, made in Python and added row by row."""
    rows = list(
        LogEntry.objects.filter(seq__gt=low, seq__lte=high)
        .order_by("seq")
        .values_list("seq", "created_at", "event_type", "risk_codes", "payload")
    )
    keyed: list[tuple[int, tuple[Any, ...], str | None]] = []
    jobs: dict[str, tuple[int, float | None]] = {}
    for seq, created_at, event_type, risk_codes, payload in rows:
        data: Any = None
        if event_type == "generation.refused" or event_type in dashboard.FINISHED_EVENTS:
            try:
                data = json.loads(payload)
            except ValueError:
                data = None
        code = stage = ""
        job: str | None = None
        if event_type == "generation.refused":
            code = str(_payload_value(data, "reason_code") or "")[:64]
            stage = str(_payload_value(data, "stage") or "")[:64]
        if event_type in dashboard.FINISHED_EVENTS:
            value = _payload_value(data, "job_id")
            job = str(value) if value is not None else None
            ms_value = _payload_value(data, "latency_ms")
            ms = float(ms_value) if isinstance(ms_value, int | float) and not isinstance(ms_value, bool) else None
            if job is not None:
                first, known = jobs.get(job, (seq, None))
                largest = ms if known is None else known if ms is None else max(ms, known)
                jobs[job] = (min(first, seq), largest)
        keyed.append((seq, (dashboard.bucket_start(created_at), event_type, code, stage, risk_codes), job))
    counts: dict[tuple[Any, ...], list[int]] = {}
    for seq, key, job in keyed:
        found = jobs.get(job) if job is not None else None
        full = (*key, dashboard.latency_bucket(found[1] if found else None))
        tally = counts.setdefault(full, [0, 0])
        tally[0] += 1
        tally[1] += 1 if found and seq == found[0] else 0
    _add(counts.items())
    return len(rows)


def _add(counts: Iterable[tuple[tuple[Any, ...], list[int]]]) -> None:
    names = ("bucket", "event_type", "reason_code", "stage", "risk_codes", "latency_bucket")
    for key, (records, jobs) in counts:
        where = dict(zip(names, key, strict=True))
        updated = Rollup.objects.filter(**where).update(records=F("records") + records, jobs=F("jobs") + jobs)
        if not updated:
            Rollup.objects.create(**where, records=records, jobs=jobs)


def rollups_forget_before(*, moment: datetime) -> None:
    """After a purge deleted records older than ``moment``: the rollups before it are no longer read (nor kept)."""
    with transaction.atomic():
        state, _made = RollupState.objects.select_for_update().get_or_create(id=1)
        if state.raw_before is None or moment > state.raw_before:
            RollupState.objects.filter(id=1).update(raw_before=moment)
        Rollup.objects.filter(bucket__lt=dashboard.bucket_start(moment)).delete()

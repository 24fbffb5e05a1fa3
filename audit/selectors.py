"""Reads of the audit log: filters shared by the pages, exports and commands; the integrity banner."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass, fields
from datetime import datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import Max, Min, Q, QuerySet
from django.db.models.expressions import RawSQL
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _

from audit.catalogue import EVENT_TYPES
from audit.models import Decision, Export, LogEntry, Seal
from audit.progress import verification_running


class FilterError(ValueError):
    """A filter value that cannot be understood; the message names the filter."""


@dataclass(frozen=True)
class LogFilters:
    """What auditors filter on. Empty strings mean "any"."""

    time_from: str = ""
    time_to: str = ""
    actor: str = ""
    event_type: str = ""
    service: str = ""
    model: str = ""
    decision: str = ""
    risk_code: str = ""
    produce_id: str = ""
    seq_from: str = ""
    seq_to: str = ""
    # Text in the subject or a payload value (LogEntryQuerySet.matching).
    search: str = ""

    @classmethod
    def names(cls) -> list[str]:
        return [f.name for f in fields(cls)]

    @classmethod
    def from_mapping(cls, data: Any) -> LogFilters:
        """Build from request.GET, a dict or parsed options, ignoring unknown keys; check each value."""
        values = {name: str(data.get(name) or "").strip() for name in cls.names()}
        filters = cls(**values)
        filters.queryset()  # raises FilterError on a bad value
        return filters

    def as_dict(self) -> dict[str, str]:
        return {k: v for k, v in asdict(self).items() if v}

    def queryset(self) -> QuerySet[LogEntry]:
        qs = LogEntry.objects.all()
        if self.time_from:
            qs = qs.filter(created_at__gte=_moment(self.time_from, "time_from", end=False))
        if self.time_to:
            qs = qs.filter(created_at__lt=_moment(self.time_to, "time_to", end=True))
        if self.actor:
            qs = qs.filter(Q(actor_username=self.actor) | Q(actor_id=self.actor))
        if self.event_type:
            pattern = self.event_type
            known = pattern in EVENT_TYPES or (
                pattern.endswith(".*") and any(name.startswith(pattern[:-1]) for name in EVENT_TYPES)
            )
            if not known:
                raise FilterError(_("Unknown event type: %(value)s") % {"value": pattern})
            qs = qs.of_event_type(pattern)
        if self.service:
            qs = qs.filter(filing_number=self.service)
        if self.model:
            qs = qs.filter(model_record=self.model)
        if self.decision:
            if self.decision not in Decision.values:
                raise FilterError(_("Unknown decision: %(value)s") % {"value": self.decision})
            qs = qs.filter(decision=self.decision)
        if self.risk_code:
            qs = qs.with_risk_code(self.risk_code)
        if self.produce_id:
            qs = qs.filter(produce_id=self.produce_id)
        if self.search:
            qs = qs.matching(self.search)
        for name, lookup in (("seq_from", "seq__gte"), ("seq_to", "seq__lte")):
            value = getattr(self, name)
            if value:
                try:
                    qs = qs.filter(**{lookup: int(value)})
                except ValueError:
                    raise FilterError(_("%(name)s must be a whole number") % {"name": name}) from None
        return qs


def _moment(value: str, name: str, *, end: bool) -> datetime:
    """A date (whole day; the end of range is exclusive of the next day) or an ISO date-time."""
    parsed_dt = parse_datetime(value)
    if parsed_dt is not None:
        return parsed_dt if timezone.is_aware(parsed_dt) else timezone.make_aware(parsed_dt)
    try:
        parsed_d = parse_date(value)
    except ValueError:
        parsed_d = None
    if parsed_d is None:
        raise FilterError(_("%(name)s is not a date or time: %(value)s") % {"name": name, "value": value})
    day = parsed_d + timedelta(days=1) if end else parsed_d
    return timezone.make_aware(datetime.combine(day, time.min))


def canonical_time_sql() -> str:
    """SQL giving ``created_at`` in the canonical text form (``audit.integrity.time_canonical``)."""
    if connection.vendor == "postgresql":
        return "to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
    # SQLite keeps UTC as 'YYYY-MM-DD HH:MM:SS[.ffffff]'.
    return (
        "CASE WHEN instr(created_at, '.') > 0 THEN replace(created_at, ' ', 'T') || 'Z' "
        "ELSE replace(created_at, ' ', 'T') || '.000000Z' END"
    )


def with_canonical_time(qs: QuerySet[LogEntry]) -> QuerySet[LogEntry]:
    """Adds ``created_at_text``: the time as hashed and exported, computed by the database."""
    return qs.annotate(created_at_text=RawSQL(canonical_time_sql(), ()))  # noqa: S611 (constant SQL)


def entries_keyset(
    qs: QuerySet[LogEntry], columns: tuple[str, ...], *, chunk: int = 5000
) -> Iterator[list[tuple[Any, ...]]]:
    """Pages of ``columns`` (the first must be ``seq``) in sequence order, in constant memory.

    Pages are windows of ``chunk`` sequence numbers between the first and last matching record,
    so each query reads a bounded range whatever the planner's statistics say.
    """
    bounds = qs.aggregate(lo=Min("seq"), hi=Max("seq"))
    if bounds["lo"] is None:
        return
    for first in range(bounds["lo"], bounds["hi"] + 1, chunk):
        page = qs.filter(seq__gte=first, seq__lt=first + chunk).order_by("seq")
        batch = list(page.values_list(*columns))
        if batch:
            yield batch


def seals_covering(first_seq: int, last_seq: int) -> QuerySet[Seal]:
    return Seal.objects.filter(last_seq__gte=first_seq, first_seq__lte=last_seq).order_by("number")


def seal_for(seq: int) -> Seal | None:
    return Seal.objects.filter(first_seq__lte=seq, last_seq__gte=seq).first()


# ------------------------------------------------------------------------------
# Integrity banner
# ------------------------------------------------------------------------------
def _payload_or_none(entry: LogEntry | None) -> dict[str, Any] | None:
    if entry is None:
        return None
    try:
        data = json.loads(entry.payload)
    except (TypeError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def zone_label() -> str:
    """``Asia/Shanghai, UTC+08:00``: the current zone (AUDIT_TIME_ZONE on the auditors' pages) and its offset now."""
    offset = timezone.localtime().strftime("%z")
    return f"{timezone.get_current_timezone_name()}, UTC{offset[:3]}:{offset[3:]}"


# The last number the writers' counter gave out (PostgreSQL: the sequence; SQLite: the counter row).
_GIVEN_OUT_SQL = {
    "postgresql": "SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END FROM audit_logentry_seq",
    "sqlite": "SELECT last_seq FROM audit_sequence WHERE id = 1",
}


def numbers_given_out() -> int:
    """The highest sequence number given out so far: committed, still in flight, or rolled back."""
    with connection.cursor() as cursor:
        cursor.execute(_GIVEN_OUT_SQL[connection.vendor])
        return int(cursor.fetchone()[0])


def integrity_status() -> dict[str, Any]:
    """What the auditors' banner shows: a verification under way, the last seal, the records waiting, the last
    verification (with the numbers it found sealed without a record), and ``seal_refused``: the sealer's report of
    a bad record that still blocks sealing (None if none does)."""
    last_seal = Seal.objects.order_by("-number").first()
    sealed_to = last_seal.last_seq if last_seal else 0
    last_check = LogEntry.objects.filter(event_type="audit.verified").order_by("-seq").first()
    # The numbers given out past the last seal, read from the counter rather than counted over the log (a scan
    # of millions of records on a busy log). On PostgreSQL this includes numbers still in flight or rolled back:
    # the next seal settles those too.
    unsealed = max(numbers_given_out() - sealed_to, 0)
    check = _payload_or_none(last_check)
    refusal = LogEntry.objects.filter(event_type="audit.seal_refused", seq__gt=sealed_to).order_by("-seq").first()
    refused = _payload_or_none(refusal)
    if refused is not None and not (isinstance(refused.get("seq"), int) and refused["seq"] > sealed_to):
        refused = None
    missing = check.get("missing") if check is not None else None
    numbers = check.get("missing_numbers") if check is not None else None
    return {
        "verification": verification_running(),
        "poll_seconds": settings.AUDIT_BANNER_POLL_SECONDS,
        "zone": zone_label(),
        "last_seal": last_seal,
        "sealed_at": parse_datetime(last_seal.sealed_at) if last_seal else None,
        "last_check": last_check,
        "check": check,
        # Numbers sealed without a record (rolled back or deleted before sealing), as the last verification found.
        "missing": missing if isinstance(missing, int) else 0,
        "missing_numbers": ", ".join(str(n) for n in numbers) if isinstance(numbers, list) else "",
        "unsealed": unsealed,
        "seal_refused": refused,
        "seal_refused_at": refusal.created_at if refused is not None and refusal is not None else None,
    }


def exports_recent(*, limit: int = 20) -> QuerySet[Export]:
    return Export.objects.order_by("-created_at")[:limit]


def subject_history(*, kind: str, ident: str, limit: int = 500) -> list[LogEntry]:
    """The audit records about one subject (e.g. ``filing.service`` 3), newest first."""
    return list(LogEntry.objects.filter(subject_kind=kind, subject_id=ident).order_by("-seq")[:limit])

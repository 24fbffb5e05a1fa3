"""What limits a user, counted as it happens: jobs against the daily quota, and refused inputs.

The daily quota (``GENERATION_DAILY_QUOTA``, or minor mode's lower limit) is checked by ``job_submit`` inside
the transaction that stores the job, with the user's row locked, so two submissions racing for the last unit
of quota cannot both pass. The counts live in their own rows (``DailyUsage``, ``RefusalStreak``), written in
the transaction that stores or ends the job, so deleting one's history changes neither. A day is a calendar
day in ``TIME_ZONE``. A job that delivers nothing (cancelled before a worker started, failed, withheld by
output moderation) is given back; an input refused by moderation never counts as a job, but as a refusal.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import F
from django.db.models.functions import Greatest
from django.utils import timezone
from django.utils.translation import gettext as _

from generation.minors import MinorMode, minor_mode
from generation.models import DailyUsage, Job, RefusalStreak

_ONE_DAY = timedelta(days=1)


def usage_day(moment: datetime | None = None) -> date:
    return timezone.localtime(moment or timezone.now()).date()


def _bump(user_id: int, day: date, **deltas: int) -> None:
    DailyUsage.objects.get_or_create(user_id=user_id, day=day)
    DailyUsage.objects.filter(user_id=user_id, day=day).update(
        **{field: Greatest(F(field) + delta, 0) for field, delta in deltas.items()}
    )


def usage_job_counted(*, job: Job) -> None:
    """A job was queued: it counts against its day's quota, and it breaks a run of refused inputs."""
    _bump(job.user_id, usage_day(job.created_at), jobs=1)
    RefusalStreak.objects.filter(user_id=job.user_id).update(in_a_row=0)


def usage_job_taken(*, job: Job, limit: int, in_a_row: int | None = None) -> bool:
    """Count a queued job against its day's quota unless ``limit`` jobs (0: no limit) already count; False when they
    do. One statement, an insert that adds to the day's row when there is one, so that two submissions racing for
    the last unit cannot both take it, with no lock. ``in_a_row``: the refusals in a row the caller read (a run of
    them is broken only when there is one)."""
    table = DailyUsage._meta.db_table
    sql = (
        f"INSERT INTO {table} (user_id, day, jobs, refusals) VALUES (%s, %s, 1, 0) "  # noqa: S608 (our own table)
        f"ON CONFLICT (user_id, day) DO UPDATE SET jobs = {table}.jobs + 1"
    )
    params: list[Any] = [job.user_id, connection.ops.adapt_datefield_value(usage_day(job.created_at))]
    if limit:
        sql += f" WHERE {table}.jobs < %s"
        params.append(limit)
    with connection.cursor() as cursor:
        cursor.execute(sql + " RETURNING jobs", params)
        if cursor.fetchone() is None:
            return False
    if in_a_row is None or in_a_row:
        RefusalStreak.objects.filter(user_id=job.user_id).update(in_a_row=0)
    return True


def usage_job_given_back(*, job: Job) -> None:
    """A counted job ended without delivering anything: its day's quota gets it back."""
    _bump(job.user_id, usage_day(job.created_at), jobs=-1)


def usage_input_refused(*, user: Any) -> tuple[int, int]:
    """An input was refused for breaking the content rules; returns (refused in a row, refused today)."""
    day = usage_day()
    _bump(user.pk, day, refusals=1)
    RefusalStreak.objects.get_or_create(user_id=user.pk)
    RefusalStreak.objects.filter(user_id=user.pk).update(in_a_row=F("in_a_row") + 1)
    in_a_row = RefusalStreak.objects.values_list("in_a_row", flat=True).get(user_id=user.pk)
    return in_a_row, DailyUsage.objects.values_list("refusals", flat=True).get(user_id=user.pk, day=day)


def usage_today(*, user: Any, now: datetime | None = None) -> DailyUsage:
    """Today's counts of ``user`` (an unsaved row of zeros if nothing happened yet)."""
    day = usage_day(now)
    return DailyUsage.objects.filter(user_id=user.pk, day=day).first() or DailyUsage(user_id=user.pk, day=day)


def refusals_in_a_row(*, user: Any) -> int:
    return RefusalStreak.objects.filter(user_id=user.pk).values_list("in_a_row", flat=True).first() or 0


@dataclass(frozen=True)
class QuotaState:
    limit: int  # 0: no limit
    used: int
    resets_at: datetime
    minor: bool = False  # the limit is minor mode's

    @property
    def unlimited(self) -> bool:
        return self.limit == 0

    @property
    def remaining(self) -> int | None:
        return None if self.unlimited else max(self.limit - self.used, 0)

    @property
    def exhausted(self) -> bool:
        return not self.unlimited and self.used >= self.limit


def quota_state(*, user: Any, now: datetime | None = None) -> QuotaState:
    now = timezone.localtime(now or timezone.now())
    used = usage_today(user=user, now=now).jobs
    return quota_state_of(used=used, mode=minor_mode(user, today=now.date()), now=now)


def quota_state_of(*, used: int, mode: MinorMode | None, now: datetime | None = None) -> QuotaState:
    """The quota of an account that used ``used`` jobs today, in minor mode ``mode`` (None: an adult's)."""
    now = timezone.localtime(now or timezone.now())
    day_start = timezone.make_aware(datetime.combine(now.date(), time.min), now.tzinfo)
    limit = settings.GENERATION_DAILY_QUOTA
    if mode is not None and (limit == 0 or mode.daily_jobs < limit):
        return QuotaState(limit=mode.daily_jobs, used=used, resets_at=day_start + _ONE_DAY, minor=True)
    return QuotaState(limit=limit, used=used, resets_at=day_start + _ONE_DAY)


def quota_refusal(*, user: Any) -> str | None:
    """Why ``user`` may submit no more jobs today, in plain words; None while the quota lasts."""
    return quota_state_refusal(quota_state(user=user))


def quota_state_refusal(state: QuotaState) -> str | None:
    """Why an account with the quota ``state`` may submit no more jobs today, in plain words; None while it lasts."""
    if not state.exhausted:
        return None
    if state.minor:
        return _(
            "Minor mode: you have used all %(limit)d generations allowed today. "
            "The limit renews at midnight; please come back tomorrow."
        ) % {"limit": state.limit}
    return _(
        "You have used all %(limit)d generations of today's quota. It renews at midnight; please come back then."
    ) % {"limit": state.limit}

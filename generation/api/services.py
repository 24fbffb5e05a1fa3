"""End-user services shared by the web pages and the API: daily quota, reports, settings, history.

The daily quota of generation jobs is applied before ``job_submit``. A day is a calendar day in
``TIME_ZONE``. Jobs that delivered nothing (refused by moderation, cancelled before a worker started,
failed) do not count. The counts are kept apart from the jobs (``generation.usage``), so deleting
one's history does not give the quota back. The check is repeated inside the transaction that stores
the job, with the user's row locked, so two submissions racing for the last unit of quota cannot both
pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from audit import services as audit
from filing.models import Complaint
from filing.services import complaint_create
from generation.minors import minor_mode
from generation.models import Job, Output, UserSettings
from generation.services import JobUnavailable, checkpoint_serving, job_submit
from generation.usage import usage_today

_ONE_DAY = timedelta(days=1)


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
    day_start = timezone.make_aware(datetime.combine(now.date(), time.min), now.tzinfo)
    used = usage_today(user=user, now=now).jobs
    limit = settings.GENERATION_DAILY_QUOTA
    mode = minor_mode(user, today=now.date())
    if mode is not None and (limit == 0 or mode.daily_jobs < limit):
        return QuotaState(limit=mode.daily_jobs, used=used, resets_at=day_start + _ONE_DAY, minor=True)
    return QuotaState(limit=limit, used=used, resets_at=day_start + _ONE_DAY)


def net_unavailable_reason(kind: str, user: Any = None) -> str | None:
    """Why jobs of ``kind`` would be refused by the policy gate now for ``user`` (service not open, no serving
    checkpoint, model not approved), in plain words; None when the kind is available."""
    from generation.services import policy_refusal  # the gate job_submit applies, asked ahead of time

    refusal = policy_refusal(checkpoint_serving(kind), user)
    return refusal[0] if refusal else None


def job_submit_within_quota(
    *, user: Any, kind: str, params: dict[str, Any], idempotency_key: str | None = None, request: Any = None
) -> Job:
    """``job_submit`` after the daily quota check; raises JobUnavailable(code="over_quota") past it.

    A retried request with the idempotency key of an existing job gets that job even at the limit.
    """
    if idempotency_key:
        existing = Job.objects.filter(user=user, idempotency_key=idempotency_key).first()
        if existing:
            return existing

    def admit() -> None:
        state = quota_state(user=user)
        if state.exhausted:
            reason = (
                _(
                    "Minor mode: you have used all %(limit)d generations allowed today. "
                    "The limit renews at midnight; please come back tomorrow."
                )
                if state.minor
                else _(
                    "You have used all %(limit)d generations of today's quota. "
                    "It renews at midnight; please come back then."
                )
            ) % {"limit": state.limit}
            raise JobUnavailable(reason, code="over_quota")

    try:
        admit()  # first without the lock, so a spent quota is refused before any moderation work
        return job_submit(
            user=user, kind=kind, params=params, idempotency_key=idempotency_key, request=request, admit=admit
        )
    except JobUnavailable as refusal:
        if refusal.code == "over_quota":
            audit.generation_event(
                event_type="generation.refused",
                actor=user,
                request=request,
                decision="refused",
                payload={"kind": kind, "reason": refusal.message, "stage": "policy"},
            )
        raise


# ------------------------------------------------------------------------------
# Reports of outputs
# ------------------------------------------------------------------------------
REPORT_CATEGORIES = [(value, label) for value, label in Complaint.Category.choices if value != "personal_info"]


def output_report_create(
    *, user: Any, output: Output, reason: str, details: str = "", channel: str, request: Any = None
) -> Complaint:
    """File a user's report of one of their outputs as a complaint of the filing (linked by ProduceID).

    The complaint service writes the ``complaint.received`` audit record and sets the answer due date.
    """
    return complaint_create(
        channel=channel,
        complainant=user.get_username(),
        category=reason,
        details=details.strip(),
        produce_id=output.produce_id,
        user=user,
        request=request,
    )


def reports_of(*, user: Any) -> QuerySet[Complaint]:
    """The complaints a user filed, newest first."""
    return Complaint.objects.filter(user_id=str(user.pk)).order_by("-received_at", "-pk")


# ------------------------------------------------------------------------------
# Settings and history
# ------------------------------------------------------------------------------
def user_settings_get(*, user: Any) -> UserSettings:
    """The user's settings; an unsaved default (no consent to training use) when none are stored."""
    found = UserSettings.objects.filter(user=user).first()
    return found or UserSettings(user=user)


def user_settings_update(*, user: Any, inputs_for_training: bool) -> UserSettings:
    stored, _created = UserSettings.objects.update_or_create(
        user=user, defaults={"inputs_for_training": inputs_for_training}
    )
    return stored


def history_delete(*, user: Any) -> dict[str, int]:
    """Delete the user's jobs and their output files. Jobs a worker is running are left alone.

    Queued jobs are cancelled first so no worker starts them. The audit log keeps its records,
    which hold digests of the prompts and outputs, as the law requires; complaints keep the ProduceID.
    """
    Job.objects.filter(user=user, status=Job.Status.QUEUED).update(
        status=Job.Status.CANCELLED, finished_at=timezone.now(), reason=_("Cancelled by the user.")
    )
    jobs = Job.objects.filter(user=user).exclude(status=Job.Status.RUNNING)
    names = list(Output.objects.filter(job__in=jobs).exclude(file="").values_list("file", flat=True))
    with transaction.atomic():
        outputs = Output.objects.filter(job__in=jobs).count()
        deleted_jobs = jobs.count()
        jobs.delete()
    for name in names:
        default_storage.delete(name)
    return {"jobs": deleted_jobs, "outputs": outputs, "kept_running": Job.objects.filter(user=user).count()}

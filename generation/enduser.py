"""End-user services and selectors shared by the web pages and the API: what is available, a user's own jobs and
outputs, reports, settings and history.

Sign-up, API tokens and closing an account are ``generation.accounts``; submitting jobs is
``generation.services.job_submit``; the daily quota is ``generation.usage``.
"""

from __future__ import annotations

import base64
import binascii
import datetime
from dataclasses import dataclass
from typing import Any

from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from audit import services as audit
from filing.models import Complaint
from filing.services import complaint_create
from generation.checkpoints import checkpoint_serving
from generation.models import Job, Output, UserSettings
from generation.services import consent_change_record, policy_refusal


def net_unavailable_reason(kind: str, user: Any = None) -> str | None:
    """Why jobs of ``kind`` would be refused by the policy gate now for ``user`` (service not open, no serving
    checkpoint, model not approved), in plain words; None when the kind is available: the gate ``job_submit``
    applies, asked ahead of time."""
    refusal = policy_refusal(checkpoint_serving(kind), user)
    return refusal[0] if refusal else None


def jobs_of(*, user: Any, kind: str = "", status: str = "") -> QuerySet[Job]:
    """A user's own jobs with their outputs, newest first; only those of ``kind`` and in ``status`` when given.
    Another user's job is never among them, so looking one up here answers 404."""
    jobs = Job.objects.filter(user=user).prefetch_related("outputs").order_by("-created_at", "-pk")
    if kind:
        jobs = jobs.filter(kind=kind)
    if status:
        jobs = jobs.filter(status=status)
    return jobs


def job_just_made(job: Job) -> Job:
    """``job``, made by the current request, with its outputs known to be none: listing them (the API's answer)
    asks the database nothing, as after ``prefetch_related``. Not for a job found again by its idempotency key."""
    none = Output.objects.none()
    none._result_cache = []  # type: ignore[attr-defined]  # as prefetch_related leaves it: read, never compiled
    none._prefetch_done = True  # type: ignore[attr-defined]
    job._prefetched_objects_cache = {Job.outputs.field.remote_field.cache_name: none}  # type: ignore[attr-defined]
    return job


@dataclass(frozen=True)
class JobPage:
    """One page of a user's jobs, newest first. ``older`` is the cursor of the next (older) page, if any."""

    jobs: list[Job]
    older: str | None
    newest: bool


def _cursor_make(job: Job) -> str:
    return base64.urlsafe_b64encode(f"{job.created_at.isoformat()}|{job.pk}".encode()).decode().rstrip("=")


def _cursor_read(cursor: str) -> tuple[datetime.datetime, int] | None:
    """The (created_at, id) a cursor stands for; None for an empty or malformed one (the newest page)."""
    if not cursor:
        return None
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        at, pk = text.split("|")
        when = datetime.datetime.fromisoformat(at)
        return (when, int(pk)) if when.tzinfo is not None else None
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None


def job_page(*, jobs: QuerySet[Job], cursor: str = "", size: int) -> JobPage:
    """The page of ``jobs`` (as ``jobs_of`` orders them) that follows ``cursor``, by keyset on (created_at, id):
    no COUNT over the user's whole history, and a late page as quick to find as the first."""
    position = _cursor_read(cursor)
    if position is not None:
        at, pk = position
        jobs = jobs.filter(Q(created_at__lt=at) | Q(created_at=at, pk__lt=pk))
    rows = list(jobs[: size + 1])
    older = _cursor_make(rows[size - 1]) if len(rows) > size else None
    return JobPage(jobs=rows[:size], older=older, newest=position is None)


def outputs_of(*, user: Any) -> QuerySet[Output]:
    """The outputs of a user's own jobs, each with its job."""
    return Output.objects.filter(job__user=user).select_related("job")


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


@transaction.atomic
def user_settings_update(*, user: Any, inputs_for_training: bool, request: Any = None) -> UserSettings:
    """Store the user's consent to training use of their inputs; a change (or the first choice) is a
    ``user.consent_changed`` audit record, written in the same transaction."""
    stored = UserSettings.objects.select_for_update().filter(user=user).first()
    previous = stored.inputs_for_training if stored is not None else None
    if stored is None:
        stored = UserSettings.objects.create(user=user, inputs_for_training=inputs_for_training)
    elif previous != inputs_for_training:
        stored.inputs_for_training = inputs_for_training
        stored.save(update_fields=["inputs_for_training", "updated_at"])
    if previous != inputs_for_training:
        consent_change_record(
            user=user,
            request=request,
            consent="inputs_for_training",
            given=inputs_for_training,
            previous=previous,
        )
    return stored


def history_delete(*, user: Any, request: Any = None, audited: bool = True) -> dict[str, int]:
    """Delete the user's jobs and their output files. Jobs a worker is running are left alone.

    Queued jobs are cancelled first so no worker starts them. The audit log keeps its records,
    which hold digests of the prompts and outputs, as the law requires; complaints keep the ProduceID.
    The deletion is a ``user.history_deleted`` record in the same transaction, unless ``audited`` is False
    (closing an account counts what it deleted in its own ``user.closed`` record). The files, copies without
    the visible label included, are deleted after the rows.
    """
    with transaction.atomic():
        Job.objects.filter(user=user, status=Job.Status.QUEUED).update(
            status=Job.Status.CANCELLED, finished_at=timezone.now(), reason=_("Cancelled by the user.")
        )
        jobs = Job.objects.filter(user=user).exclude(status=Job.Status.RUNNING)
        names = list(Output.objects.filter(job__in=jobs).exclude(file="").values_list("file", flat=True))
        names += list(
            Output.objects.filter(job__in=jobs).exclude(file_unlabelled="").values_list("file_unlabelled", flat=True)
        )
        outputs = Output.objects.filter(job__in=jobs).count()
        deleted_jobs = jobs.count()
        jobs.delete()
        kept_running = Job.objects.filter(user=user).count()
        if audited:
            audit.user_event(
                event_type="user.history_deleted",
                actor=user,
                request=request,
                subject=user,
                payload={"jobs_deleted": deleted_jobs, "outputs_deleted": outputs, "kept_running": kept_running},
            )
    for name in names:
        default_storage.delete(name)
    return {"jobs": deleted_jobs, "outputs": outputs, "kept_running": kept_running}

"""How busy the job queue is, read from the database: jobs waiting against the queue's depth limit, the queue's
recent throughput, and a queued job's place with when it should start.

Every job runs on the queue ``CELERY_TASK_ROUTES`` sends ``generation.job_run`` to, so the jobs waiting there are
the rows stored ``queued``. Counting rows rather than asking the broker works the same on the embedded broker and
on Redis, and counts a job whose message the sweeper has yet to send again. Each count is one indexed query
(``generation_job_status_created`` for the waiting jobs, ``generation_job_status_finished`` for the finished ones).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from generation.models import Job

JOB_TASK = "generation.job_run"
# Jobs that a worker took off the queue and finished; a cancelled or refused job never reached a worker.
_WORKED = (Job.Status.SUCCEEDED, Job.Status.FAILED)


@dataclass(frozen=True)
class QueuePlace:
    """Where a queued job waits: ``position`` 1 is next; ``estimated_start_seconds`` is None when the queue
    finished no job lately, so that there is nothing to estimate from."""

    position: int
    estimated_start_seconds: int | None


def job_queue() -> str:
    """The Celery queue jobs run on (the route of their task in the settings)."""
    route = settings.CELERY_TASK_ROUTES.get(JOB_TASK, {})
    return str(route.get("queue", settings.CELERY_TASK_DEFAULT_QUEUE))


def queue_depth_limit(queue: str) -> int:
    """The most jobs that may wait on ``queue`` before submissions are refused; 0 means no limit."""
    return int(settings.GENERATION_QUEUE_DEPTH_LIMITS.get(queue, settings.GENERATION_QUEUE_DEPTH_LIMIT))


def _throughput_window() -> timedelta:
    return timedelta(minutes=settings.GENERATION_THROUGHPUT_MINUTES)


def queue_seconds_for(jobs: int) -> int | None:
    """Seconds the job queue takes to get through ``jobs`` more jobs at the rate it finished them in the last
    ``GENERATION_THROUGHPUT_MINUTES`` (at least 1); None when it finished none in that time."""
    window = _throughput_window()
    finished = Job.objects.filter(status__in=_WORKED, finished_at__gte=timezone.now() - window).count()
    if not finished:
        return None
    return max(math.ceil(jobs * window.total_seconds() / finished), 1)


def wait_words(seconds: int) -> str:
    """A wait said in words: seconds up to two minutes, whole minutes beyond."""
    if seconds < 120:
        return _("%(n)d seconds") % {"n": seconds}
    return _("%(n)d minutes") % {"n": math.ceil(seconds / 60)}


def queue_refusal(*, waiting: int | None = None) -> tuple[str, int] | None:
    """Why no job may join the job queue now, and the seconds to wait (Retry-After), or None while fewer jobs
    wait than its depth limit.

    ``waiting``: the jobs waiting, when the caller counted them; otherwise one COUNT. The wait is the time the
    queue takes, at its recent rate, to get below its limit, at least 1 s; ``OUTAGE_RETRY_AFTER_SECONDS`` when it
    finished nothing lately.
    """
    limit = queue_depth_limit(job_queue())
    if not limit:
        return None
    if waiting is None:
        waiting = Job.objects.filter(status=Job.Status.QUEUED).count()
    if waiting < limit:
        return None
    seconds = queue_seconds_for(waiting - limit + 1) or settings.OUTAGE_RETRY_AFTER_SECONDS
    message = _(
        "The service is busy: too many jobs are waiting, so this one was not accepted. Please try again in about "
        "%(wait)s."
    ) % {"wait": wait_words(seconds)}
    return message, seconds


def queue_position(job: Job) -> int | None:
    """How many jobs wait before ``job``, and it (1: next), or None when it is not waiting. Jobs wait in the order
    they were stored."""
    if job.status != Job.Status.QUEUED:
        return None
    ahead = Job.objects.filter(
        Q(created_at__lt=job.created_at) | Q(created_at=job.created_at, pk__lt=job.pk), status=Job.Status.QUEUED
    ).count()
    return ahead + 1


def queue_place_at(position: int) -> QueuePlace:
    """The place ``position`` in the job queue, with when a job there should start: once the queue has finished
    ``position`` more jobs at its recent rate."""
    return QueuePlace(position=position, estimated_start_seconds=queue_seconds_for(position))


def queue_place(job: Job) -> QueuePlace | None:
    """Where ``job`` waits in the queue, and when it should start; None when it is not waiting."""
    position = queue_position(job)
    return queue_place_at(position) if position else None

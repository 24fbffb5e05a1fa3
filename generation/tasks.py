"""Celery tasks of generation: thin wrappers that take ids and call one service.

Each task's queue is set in ``CELERY_TASK_ROUTES`` (settings), not on the task.
"""

from __future__ import annotations

import sys
from typing import Any

from celery import Task, shared_task
from celery.signals import worker_init, worker_process_init, worker_ready, worker_shutting_down
from django.conf import settings


@worker_init.connect
def _label_font_required(**kwargs: Any) -> None:
    # Workers do not run Django's system checks: refuse to start rather than draw boxes for "AI生成".
    from generation.labels import label_font_require

    label_font_require()


@worker_init.connect
def _torch_device_required(**kwargs: Any) -> None:
    # A worker told to use CUDA on a machine without it stops here, with one line naming the setting. Celery logs
    # and ignores an ordinary exception from a signal receiver, so this exits instead.
    from generation.torch_device import TorchDeviceUnavailable, torch_device_require

    try:
        torch_device_require()
    except TorchDeviceUnavailable as exc:
        sys.stderr.write(f"genai-platform: configuration error: {exc}\n")
        raise SystemExit(2) from exc


@worker_process_init.connect
def _torch_threads(**kwargs: Any) -> None:
    # Each worker process gets a deliberate number of torch threads (several processes share the
    # cores); torch is imported here, after the fork, never in the parent or the web process.
    from generation.ml.runtime import torch_threads_set

    torch_threads_set(settings.GENAI_TORCH_THREADS)


@worker_shutting_down.connect
def _interrupt_training(sender: str | None = None, **kwargs: Any) -> None:
    # A warm shutdown (Ctrl-C on `make run`, SIGTERM from a supervisor) waits for running tasks: ask this
    # worker's training runs to stop now, keeping their best epoch, instead of training to the end.
    from generation.training_runs import training_runs_interrupt

    training_runs_interrupt(worker=str(sender or ""))


@worker_ready.connect
def _training_runs_orphaned(sender: Any = None, **kwargs: Any) -> None:
    # Runs this worker (by host name) was training when it was killed outright never finished.
    from generation.training_runs import training_runs_orphaned

    hostname = getattr(sender, "hostname", "") or ""
    if hostname:
        training_runs_orphaned(worker=hostname)


@shared_task(
    bind=True,
    name="generation.job_run",
    acks_late=True,  # safe: job_run claims the row, so a second delivery does nothing
    reject_on_worker_lost=True,
    soft_time_limit=settings.JOB_TIME_LIMIT - 10,
    time_limit=settings.JOB_TIME_LIMIT,
)
def job_run_task(self: Task, *, job_id: int) -> None:
    from generation.services import job_run

    job_run(job_id=job_id, worker=self.request.hostname or "")


@shared_task(name="generation.jobs_sweep", soft_time_limit=50, time_limit=60)
def jobs_sweep_task() -> dict[str, int]:
    from generation.services import jobs_sweep

    return jobs_sweep()


@shared_task(
    bind=True,
    name="generation.training_run",
    acks_late=True,  # safe: training_run_execute claims the row
    soft_time_limit=settings.TRAINING_MAX_MINUTES * 60 + 600,
    time_limit=settings.TRAINING_MAX_MINUTES * 60 + 900,
)
def training_run_task(self: Task, *, run_id: int) -> None:
    from generation.training_runs import training_run_execute

    training_run_execute(run_id=run_id, worker=self.request.hostname or "")


@shared_task(
    bind=True,
    name="generation.assessment_run",
    # Not acks_late: a redelivered run would find itself already running. An interrupted run is
    # resumed from the admin; answered questions keep their answers.
    soft_time_limit=4 * 3600,
    time_limit=4 * 3600 + 60,
)
def assessment_run_task(self: Task, *, run_id: int) -> None:
    from generation.assessment import assessment_run_execute

    assessment_run_execute(run_id=run_id, worker=self.request.hostname or "")


def assessment_run_enqueue(run_id: int) -> None:
    """Queue the run of a filing assessment (registered with ``filing`` when the app starts)."""
    assessment_run_task.apply_async(kwargs={"run_id": run_id})


@shared_task(name="generation.corpus_check", soft_time_limit=4 * 3600, time_limit=4 * 3600 + 60)
def corpus_check_task(*, check_id: int) -> None:
    from filing.services import corpus_check_execute

    corpus_check_execute(check_id=check_id)


def corpus_check_enqueue(check_id: int) -> None:
    """Queue a corpus technical check (registered with ``filing`` when the app starts)."""
    corpus_check_task.apply_async(kwargs={"check_id": check_id})


@shared_task(name="generation.account_closures", soft_time_limit=3000, time_limit=3300)
def account_closures_task() -> int:
    """Close the accounts whose cooling-off period has ended."""
    from generation.accounts import closures_complete

    return closures_complete()

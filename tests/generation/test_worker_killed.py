"""A worker process killed in the middle of a job: the job is recovered, not lost and not duplicated."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from generation import services
from generation.models import Job
from tests.generation.factories import (
    TINY_TUNES,
    TINY_VOCAB,
    checkpoint_serve_untrained,
    checkpoint_tiny,
    model_record_for,
)

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def _database_url() -> str:
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    return f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def _slow_lm_checkpoint():
    """A full-size (untrained) language model: long enough per job to be caught while running."""
    import torch

    from generation.checkpoints import checkpoint_store
    from generation.ml.checkpoints import build_net, checkpoint_dumps, checkpoint_sha256
    from generation.ml.nets.attention import LmConfig

    config = LmConfig(vocab="\ufffd" + TINY_VOCAB, n_layer=6, n_embd=256, n_head=8, block_size=256).to_dict()
    torch.manual_seed(0)
    data = checkpoint_dumps(kind="lm", config=config, state=build_net("lm", config).state_dict(), extra={})
    checkpoint = checkpoint_store(
        kind="lm",
        data=data,
        sha256=checkpoint_sha256(data),
        config=config,
        model_record=model_record_for("lm"),
        tunes=TINY_TUNES,
    )
    return checkpoint_serve_untrained(checkpoint)


def test_job_of_a_killed_worker_is_requeued_by_the_sweeper_and_finished_once(django_user_model, tmp_path):
    checkpoint_tiny("lm")
    _slow_lm_checkpoint()
    user = django_user_model.objects.create_user(username="k", password="pw-123456-long")
    env = os.environ | {
        "DJANGO_SETTINGS_MODULE": "genai_platform.settings.base",
        "DATABASE_URL": _database_url(),
        "GENAI_DATA_DIR": str(settings.DATA_DIR),
        "GENAI_MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
    }
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "genai_platform",
            "worker",
            "--pool",
            "solo",
            "--queues",
            "inference",
            "--hostname",
            "doomed@%h",
            "--loglevel",
            "WARNING",
        ],
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=(tmp_path / "worker.log").open("w"),
    )
    try:
        job = services.job_submit(user=user, kind="lm", params={"tune": "慢词", "opening": "春风", "seed": 1})
        deadline = time.monotonic() + 120
        while Job.objects.get(pk=job.pk).status == Job.Status.QUEUED:
            assert time.monotonic() < deadline, (tmp_path / "worker.log").read_text()[-2000:]
            time.sleep(0.005)
        # when the worker dies while the job runs
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=30)
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()
    job.refresh_from_db()
    if job.status == Job.Status.SUCCEEDED:
        pytest.fail("the job finished before the worker could be killed; make it longer")
    assert job.status == Job.Status.RUNNING and job.worker.startswith("doomed@")

    # then the sweeper, once the job is stale, gives it back to the queue, and a live worker finishes it
    counts = services.jobs_sweep(now=timezone.now() + timedelta(seconds=settings.JOB_STALE_SECONDS + 1))
    assert counts["requeued"] == 1
    finished = services.job_run(job_id=job.pk, worker="alive@host")

    assert finished is not None and finished.status == Job.Status.SUCCEEDED
    assert finished.attempts == 2
    assert finished.outputs.count() == 1

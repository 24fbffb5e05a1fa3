"""Two worker hosts that share PostgreSQL, Redis and the bucket, and no file system.

Each "host" is a Celery worker process of its own with a data folder of its own (``GENAI_DATA_DIR``); stored files
go to a bucket of a real S3-compatible server (moto) on this machine. The web (this test process) submits 200 jobs
of every kind: both hosts take jobs, every job succeeds exactly once, every output downloads from the web, and a host
killed in the middle of the run loses nothing (the sweeper gives its job to the other host).
"""

from __future__ import annotations

import collections
import hashlib
import logging
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django.utils import timezone

from audit.models import LogEntry
from genai_platform.roles import Role
from generation import services
from generation.models import Job, Output
from tests.generation.factories import checkpoint_tiny, service_serving

logger = logging.getLogger(__name__)

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

JOBS = 200
# Every kind of job, and the number of outputs each makes.
KINDS: list[tuple[str, Callable[[random.Random], dict[str, Any]], Callable[[dict[str, Any]], int]]] = [
    ("gan", lambda r: {"digit": r.randrange(10), "count": r.randint(1, 2)}, lambda p: p["count"]),
    ("vae", lambda r: {"count": r.randint(1, 2)}, lambda p: p["count"]),
    ("vae", lambda r: {"interpolate_to_seed": r.randrange(100), "steps": 3}, lambda p: p["steps"]),
    ("lm", lambda r: {"tune": "测试调", "opening": r.choice("春风花月山水")}, lambda p: 1),
]


@pytest.fixture(autouse=True)
def _postgresql_and_redis() -> None:
    if connection.vendor != "postgresql" or not settings.CELERY_BROKER_URL.startswith("redis"):
        pytest.skip(
            "several worker hosts share PostgreSQL and Redis (set DATABASE_URL and REDIS_URL; CI does): "
            "SQLite and the file broker live on one host"
        )


def _database_url() -> str:
    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{db['USER']}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


class Host:
    """A worker host: a Celery worker process on the inference queue, with a data folder no other host sees."""

    def __init__(self, name: str, folder: Path, bucket: str) -> None:
        self.name = name
        self.data_dir = folder / name
        self.data_dir.mkdir(parents=True)
        self.log = folder / f"{name}.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("GENAI_", "DJANGO_", "AWS_"))}
        env |= {
            "DJANGO_SETTINGS_MODULE": "genai_platform.settings.base",
            "DATABASE_URL": _database_url(),
            "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
            "REDIS_URL": settings.CELERY_BROKER_URL,
            "GENAI_DATA_DIR": str(self.data_dir),
            # The deployment's keys are the same on every host; only the files are apart.
            "DJANGO_SECRET_KEY": settings.SECRET_KEY,
            "GENAI_LABEL_SIGNING_KEY": settings.LABEL_SIGNING_KEY,
            "GENAI_AUDIT_SIGNING_KEY": settings.AUDIT_SIGNING_KEY,
            "GENAI_AUDIT_TAG_KEY": settings.AUDIT_TAG_KEY,
            "GENAI_S3_BUCKET": bucket,
            "GENAI_S3_ENDPOINT_URL": settings.S3_ENDPOINT_URL,
            "GENAI_S3_ACCESS_KEY_ID": settings.S3_ACCESS_KEY_ID,
            "GENAI_S3_SECRET_ACCESS_KEY": settings.S3_SECRET_ACCESS_KEY,
            "GENAI_AUDIT_ANCHOR_PATH": f"s3://{bucket}/audit/last-seal.json",
            "PYTHONUNBUFFERED": "1",
        }
        if settings.PI_ENCRYPTION_KEY:
            env["GENAI_PI_ENCRYPTION_KEY"] = settings.PI_ENCRYPTION_KEY
        command = [sys.executable, "-m", "celery", "-A", "genai_platform", "worker", "--pool", "solo"]
        command += ["--queues", "inference", "--hostname", f"{name}@%h", "--loglevel", "WARNING"]
        self.process = subprocess.Popen(  # noqa: S603  (this interpreter, fixed arguments)
            command,
            env=env,
            cwd=settings.BASE_DIR,
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=self.log.open("w"),
        )

    def kill(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]

    def stored_files(self) -> list[Path]:
        return [p for p in self.data_dir.rglob("*") if p.is_file() and "media" in p.relative_to(self.data_dir).parts]


@pytest.fixture
def hosts(s3_storage: str, tmp_path: Path) -> Iterator[tuple[Host, Host]]:
    from genai_platform.celery import app

    started = (Host("host-a", tmp_path, s3_storage), Host("host-b", tmp_path, s3_storage))
    try:
        # Both hosts answer before the web submits anything, so that each can take a share from the start.
        def answering() -> set[str]:
            return {name.split("@")[0] for reply in app.control.ping(timeout=1.0) for name in reply}

        _wait(
            lambda: {"host-a", "host-b"} <= answering(),
            120,
            lambda: f"--- host-a:\n{started[0].tail()}\n--- host-b:\n{started[1].tail()}",
        )
        yield started
    finally:
        for host in started:
            host.stop()


def _succeeded_by(prefix: str) -> int:
    return Job.objects.filter(status=Job.Status.SUCCEEDED, worker__startswith=prefix).count()


def _wait(predicate: Callable[[], bool], timeout: float, why: Callable[[], str]) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, why()
        time.sleep(0.2)


def test_two_hosts_share_the_jobs_and_a_killed_host_loses_none(
    hosts: tuple[Host, Host], user_with_role: Any, settings: Any
) -> None:
    host_a, host_b = hosts
    settings.GENERATION_DAILY_QUOTA = JOBS
    settings.GENERATION_QUEUE_DEPTH_LIMIT = JOBS * 2
    for kind in ("gan", "vae", "lm"):
        checkpoint_tiny(kind)  # stored in the bucket: the hosts read the checkpoints from there
    service_serving()
    users = [user_with_role(Role.END_USER, f"user{i}") for i in range(4)]
    chooser = random.Random(26)

    def state() -> str:
        counts = collections.Counter(Job.objects.values_list("status", flat=True))
        return f"jobs: {dict(counts)}\n--- host-a:\n{host_a.tail()}\n--- host-b:\n{host_b.tail()}"

    running_on_a = Job.objects.filter(status=Job.Status.RUNNING, worker__startswith="host-a@")
    done_before_kill = taken_by_a = 0
    held: list[int] = []

    def kill_host_a() -> None:
        nonlocal done_before_kill, taken_by_a, held
        # Both hosts have taken jobs; host A dies, as soon as it is seen running one (a few seconds at most).
        _wait(lambda: _succeeded_by("host-a@") >= 5 and _succeeded_by("host-b@") >= 5, 300, state)
        deadline = time.monotonic() + 10
        while not running_on_a.exists() and time.monotonic() < deadline:
            time.sleep(0.002)
        host_a.kill()
        done_before_kill = Job.objects.filter(status=Job.Status.SUCCEEDED).count()
        taken_by_a = _succeeded_by("host-a@")
        held = list(running_on_a.values_list("pk", flat=True))

    # The web submits 200 jobs of every kind, for several users; halfway through, host A is killed.
    expected: dict[int, int] = {}
    for index in range(JOBS):
        if index == JOBS // 2:
            kill_host_a()
        kind, params_of, outputs_of = KINDS[index % len(KINDS)]
        params = params_of(chooser) | {"seed": chooser.randrange(1_000_000)}
        job = services.job_submit(user=users[index % len(users)], kind=kind, params=params)
        assert job.status == Job.Status.QUEUED, job.reason
        expected[job.pk] = outputs_of(params)

    # Host B works through the queue; the job host A held is left running until the sweeper gives it back.
    def drained() -> bool:
        return (
            not Job.objects.filter(status=Job.Status.QUEUED).exists()
            and not Job.objects.filter(status=Job.Status.RUNNING, worker__startswith="host-b@").exists()
        )

    _wait(drained, 300, state)
    stale = timezone.now() + timedelta(seconds=max(settings.JOB_STALE_SECONDS, settings.JOB_RESEND_SECONDS) + 1)
    swept = services.jobs_sweep(now=stale)
    assert (swept["requeued"], swept["given_up"]) == (len(held), 0)
    _wait(lambda: Job.objects.filter(status=Job.Status.SUCCEEDED).count() == JOBS, 300, state)
    for job in Job.objects.filter(pk__in=held):
        assert job.worker.startswith("host-b@") and job.attempts == 2, (job.pk, job.worker, job.attempts)

    # Every job succeeded exactly once, with all its outputs, on one of the two hosts.
    jobs = list(Job.objects.filter(pk__in=expected))
    assert len(jobs) == JOBS
    assert all(job.status == Job.Status.SUCCEEDED for job in jobs)
    assert all(job.worker.split("@")[0] in ("host-a", "host-b") for job in jobs)
    assert _succeeded_by("host-a@") >= taken_by_a >= 5 and _succeeded_by("host-b@") >= 5
    outputs = list(Output.objects.select_related("job__user").filter(job__in=jobs))
    per_job = collections.Counter(output.job_id for output in outputs)
    assert per_job == collections.Counter(expected)
    succeeded = collections.Counter(
        LogEntry.objects.filter(event_type="generation.succeeded").values_list("produce_id", flat=True)
    )
    assert {output.produce_id: succeeded[output.produce_id] for output in outputs} == {
        output.produce_id: 1 for output in outputs
    }

    first = min(job.created_at for job in jobs)
    last = max(job.finished_at for job in jobs if job.finished_at)
    logger.info(
        "200 jobs: host-a %d (killed after %d jobs done in all, holding %d), host-b %d; %.1f s from the first "
        "submission to the last result",
        _succeeded_by("host-a@"),
        done_before_kill,
        len(held),
        _succeeded_by("host-b@"),
        (last - first).total_seconds(),
    )

    # Every output downloads from the web host, read from the bucket; no host kept a stored file of its own.
    clients: dict[int, Client] = {}
    for output in outputs:
        client = clients.get(output.job.user_id)
        if client is None:
            client = clients[output.job.user_id] = Client()
            client.force_login(output.job.user)
        response = client.get(f"/outputs/{output.produce_id}/file/?download=1")
        assert response.status_code == 200, output.produce_id
        assert hashlib.sha256(b"".join(response.streaming_content)).hexdigest() == output.sha256
    assert host_a.stored_files() == [] and host_b.stored_files() == []

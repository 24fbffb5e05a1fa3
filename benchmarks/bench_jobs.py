"""The job path on the configured database and broker (PostgreSQL + Redis for ``make bench``), against baselines
measured in the same run:

- the statements a one-image VAE job sends, to submit it and to run it (besides BEGIN and COMMIT);
- a one-image VAE job from ``job_submit`` until its row says succeeded, through one real worker process, against
  the round trip of the no-op heartbeat task through the same worker (goal: p50 at most 10x);
- language-model jobs finished per second by one worker process, against ``job_run`` called in this process on
  the same jobs, one after another (goal: at least 0.9x), and by two worker processes against one (goal: 1.6x).

The worker is started as the platform starts its inference worker (``celery worker`` on the job queue and the
default queue, prefork pool), with the platform's settings; this process submits and reads the rows.

    python benchmarks/run.py jobs
    BENCH_JOBS_ROUNDS=50 BENCH_JOBS_LM=60 python benchmarks/run.py jobs
    BENCH_JOBS_WORKER_ARGS="--pool solo" python benchmarks/run.py jobs   # more arguments for the worker
"""

from __future__ import annotations

import io
import os
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

ROUNDS = int(os.environ.get("BENCH_JOBS_ROUNDS") or 30)
LM_JOBS = int(os.environ.get("BENCH_JOBS_LM") or 80)
WARM_UP = 3
# Every batch of LM jobs has the same seeds, so that each writes the same pieces: the same computation.
LM_SEED = 10_000
READ_EVERY_SECONDS = 0.002
TIMEOUT_SECONDS = 120.0
FINISHED = ("succeeded", "failed", "refused", "cancelled")
_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _p50_ms(values: list[float]) -> float:
    return statistics.median(values) * 1000


@contextmanager
def _worker(concurrency: int) -> Iterator[None]:
    """A Celery worker process of the platform on the job queue and the default queue, until the block ends."""
    from genai_platform.queues import Queue
    from generation.queueing import job_queue

    queues = ",".join(dict.fromkeys([job_queue(), Queue.DEFAULT.value]))
    command = [sys.executable, "-m", "celery", "-A", "genai_platform", "--quiet", "worker", "--queues", queues]
    command += ["--concurrency", str(concurrency), "--loglevel", "WARNING", "--hostname", f"bench{concurrency}@%h"]
    command += os.environ.get("BENCH_JOBS_WORKER_ARGS", "").split()
    # Its log goes nowhere: a line per task would be most of what the benchmark prints.
    process = subprocess.Popen(  # noqa: S603 (our own worker)
        command, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        _noop_round_trip("bench-ready")  # the worker is up once it answers
        yield
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _noop_round_trip(task_id: str) -> float:
    from benchmarks.scratch import noop_round_trip

    return noop_round_trip(task_id, timeout=TIMEOUT_SECONDS, every=READ_EVERY_SECONDS)


def _wait_finished(job: Any, started: float) -> None:
    while job.status not in FINISHED:
        if time.perf_counter() - started > TIMEOUT_SECONDS:
            raise RuntimeError(f"job {job.public_id} was not finished within {TIMEOUT_SECONDS:.0f} s")
        time.sleep(READ_EVERY_SECONDS)
        job.refresh_from_db(fields=["status", "started_at", "finished_at", "reason"])
    if job.status != "succeeded":
        raise RuntimeError(f"job {job.public_id} ended {job.status}: {job.reason}")


def _statements(user: Any) -> tuple[int, int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from generation.services import job_submit
    from generation.services.running import job_run

    job_run(job_id=job_submit(user=user, kind="vae", params={"count": 1}).pk)  # what a process reads once
    with CaptureQueriesContext(connection) as submitted:
        job = job_submit(user=user, kind="vae", params={"count": 1})
    with CaptureQueriesContext(connection) as ran:
        job_run(job_id=job.pk, worker="bench")

    def counted(queries: CaptureQueriesContext) -> int:
        return sum(not q["sql"].lstrip().upper().startswith(_CONTROL) for q in queries.captured_queries)

    return counted(submitted), counted(ran)


def _lm_params() -> dict[str, Any]:
    from generation.services.gate import tunes_offered

    tunes = tunes_offered()
    if not tunes:
        raise RuntimeError("no language model serves: the demo data did not register the bundled nets")
    return {"tune": tunes[0].name, "opening": ""}


def _lm_batch(user: Any, count: int, first_seed: int) -> list[Any]:
    from generation.services import job_submit

    params = _lm_params()
    return [job_submit(user=user, kind="lm", params=params | {"seed": first_seed + i}) for i in range(count)]


def _busy_rate(jobs: list[Any]) -> tuple[float, float]:
    """Jobs finished per second while the workers had them (from the first start to the last finish), and the mean
    seconds a job took inside ``job_run`` (from its claim to its finish, the row's own times)."""
    from generation.models import Job

    rows = list(Job.objects.filter(pk__in=[j.pk for j in jobs]).values_list("status", "started_at", "finished_at"))
    if any(status != "succeeded" for status, _s, _f in rows):
        raise RuntimeError(f"not every LM job succeeded: {sorted({status for status, _s, _f in rows})}")
    span = (max(f for _st, _s, f in rows) - min(s for _st, s, _f in rows)).total_seconds()
    inside = statistics.fmean((f - s).total_seconds() for _st, s, f in rows)
    return len(rows) / span, inside


def _in_process(user: Any) -> tuple[float, float]:
    """The LM batch through ``job_run`` in this process, one job after another: jobs per second, and the mean
    seconds inside ``job_run``."""
    from generation.services.running import job_run

    jobs = _lm_batch(user, LM_JOBS, first_seed=LM_SEED)
    started = time.perf_counter()
    for job in jobs:
        job_run(job_id=job.pk, worker="bench")
    return len(jobs) / (time.perf_counter() - started), _busy_rate(jobs)[1]


def _through_workers(user: Any, first_seed: int) -> tuple[float, float]:
    """The LM batch through the running worker: stored and queued while the worker does not consume the job queue,
    so that it finds the whole batch waiting (submitting is slower than a worker's LM job)."""
    from genai_platform.celery import app
    from generation.models import Job
    from generation.queueing import job_queue

    app.control.cancel_consumer(job_queue(), reply=True, timeout=5)
    try:
        jobs = _lm_batch(user, LM_JOBS, first_seed)
    finally:
        app.control.add_consumer(job_queue(), reply=True, timeout=5)
    started = time.perf_counter()
    while Job.objects.filter(pk__in=[j.pk for j in jobs], status__in=("queued", "running")).exists():
        if time.perf_counter() - started > TIMEOUT_SECONDS * 5:
            raise RuntimeError("the LM jobs were not finished in time")
        time.sleep(0.05)
    return _busy_rate(jobs)


def main() -> None:
    import django
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection

    from benchmarks.scratch import guard
    from genai_platform.celery import app
    from generation.ml.runtime import torch_threads_set
    from generation.services import job_submit
    from generation.services.running import job_run

    guard()  # it writes jobs and audit records: only into the scratch database made for it
    call_command("demo_data", stdout=io.StringIO())
    settings.GENERATION_DAILY_QUOTA = 0  # the benchmark's own jobs are not limited by the demo user's quota
    settings.GENERATION_QUEUE_DEPTH_LIMIT = 0
    user = get_user_model().objects.get(username="enduser")
    print(f"load average before: {_load()} ({os.cpu_count()} cores)")
    print(f"database: {connection.vendor}; broker: {app.conf.broker_url.split('@')[-1]}; Django {django.__version__}")

    submit_statements, run_statements = _statements(user)
    print("Statements of a one-image VAE job, besides BEGIN and COMMIT:")
    print(f"  submission {submit_statements}   (goal <= 5)")
    print(f"  run        {run_statements}   (goal <= 6)")

    # In this process, with the worker processes' torch threads: the task's own work, one job after another.
    torch_threads_set(settings.GENAI_TORCH_THREADS)
    job_run(job_id=_lm_batch(user, 1, first_seed=LM_SEED - 1)[0].pk, worker="bench")  # loads the net
    before = _in_process(user)

    with _worker(concurrency=1):
        latencies: list[float] = []
        for index in range(WARM_UP + ROUNDS):
            sent = time.perf_counter()
            job = job_submit(user=user, kind="vae", params={"count": 1, "seed": index})
            _wait_finished(job, sent)
            if index >= WARM_UP:
                latencies.append(time.perf_counter() - sent)
        noops = [_noop_round_trip(f"bench-noop-{i}") for i in range(WARM_UP + ROUNDS)][WARM_UP:]
        _lm_batch(user, 2, first_seed=20_000)  # the worker loads the LM before the timed batch
        one_rate, one_inside = _through_workers(user, first_seed=LM_SEED)
    # Again between the worker runs: the machine's speed drifts by tens of per cent in a minute.
    after = _in_process(user)
    direct_rate, direct_inside = statistics.fmean([before[0], after[0]]), statistics.fmean([before[1], after[1]])
    with _worker(concurrency=2):
        _lm_batch(user, 4, first_seed=40_000)
        two_rate, _two_inside = _through_workers(user, first_seed=LM_SEED)

    job_p50, noop_p50 = _p50_ms(latencies), _p50_ms(noops)
    print(f"One-image VAE job, submission to result, one worker process ({ROUNDS} rounds, p50):")
    print(f"  job                          {job_p50:8.1f} ms")
    print(f"  no-op task round trip        {noop_p50:8.1f} ms")
    print(f"  ratio job / no-op            {job_p50 / noop_p50:8.1f}x   (goal <= 10x)")
    print(f"LM jobs ({LM_JOBS} a batch, tune {_lm_params()['tune']}), finished per second:")
    print(
        f"  job_run in this process      {direct_rate:8.1f} /s   inside job_run {direct_inside * 1000:6.1f} ms a job "
        f"(mean of {before[0]:.1f} /s before the worker and {after[0]:.1f} /s after)"
    )
    print(
        f"  one worker process           {one_rate:8.1f} /s   inside job_run {one_inside * 1000:6.1f} ms a job; "
        f"held {1000 / one_rate:6.1f} ms; ratio {one_rate / direct_rate:.2f}x (goal >= 0.9x)"
    )
    print(f"  two worker processes         {two_rate:8.1f} /s   ratio {two_rate / one_rate:.2f}x (goal >= 1.6x)")
    print(f"load average after: {_load()}")

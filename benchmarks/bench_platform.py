"""Platform plumbing: task round trip through the configured broker and a real worker.

Baseline: the same number of heartbeat rows written directly through the ORM in this process,
so the ratio is the cost the broker and worker add per task.
"""

from __future__ import annotations

import time

from celery.contrib.testing.worker import start_worker
from django.utils import timezone

from genai_platform import services
from genai_platform.celery import app
from genai_platform.models import WorkerHeartbeat
from genai_platform.queues import Queue

TASKS = 200


def _direct_writes() -> float:
    started = time.perf_counter()
    for i in range(TASKS):
        services.heartbeat_record(queue=Queue.DEFAULT.value, hostname="bench", task_id=str(i))
    return time.perf_counter() - started


def _through_worker() -> float:
    from genai_platform.tasks import heartbeat_task

    with start_worker(app, pool="solo", perform_ping_check=False, queues=[Queue.DEFAULT.value], loglevel="ERROR"):
        started = time.perf_counter()
        marker = timezone.now()
        for i in range(TASKS):
            heartbeat_task.apply_async(
                kwargs={"queue": Queue.DEFAULT.value}, queue=Queue.DEFAULT.value, task_id=f"b{i}"
            )
        while not WorkerHeartbeat.objects.filter(task_id=f"b{TASKS - 1}", seen_at__gte=marker).exists():
            time.sleep(0.01)
        return time.perf_counter() - started


def main() -> None:
    from benchmarks.scratch import guard

    guard()  # its records go into the database it runs on: only a scratch one
    direct = _direct_writes()
    worker = _through_worker()
    print(f"broker: {app.conf.broker_url.split('@')[-1]}")
    print(f"direct ORM writes : {TASKS / direct:8.0f} /s")
    print(f"through the worker: {TASKS / worker:8.0f} tasks/s (round trip, one solo worker)")
    print(f"ratio worker/direct: {direct / worker:.2f}x")

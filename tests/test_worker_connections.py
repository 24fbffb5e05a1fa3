"""A worker keeps its database connection from task to task, and replaces one that broke (Django's CONN_MAX_AGE
and health checks, not Celery's close-after-every-task)."""

from __future__ import annotations

import threading
import time
import uuid

import pytest
from django.db import connection
from django.db.backends.signals import connection_created

from genai_platform.models import WorkerHeartbeat
from genai_platform.queues import Queue
from genai_platform.tasks import heartbeat_task

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="SQLite connections are opened per task on purpose (CONN_MAX_AGE 0): there is no server connection to keep",
)


def _heartbeat_through_worker() -> None:
    task_id = f"test-{uuid.uuid4().hex}"
    heartbeat_task.apply_async(kwargs={"queue": Queue.DEFAULT.value}, queue=Queue.DEFAULT.value, task_id=task_id)
    deadline = time.monotonic() + 30
    while not WorkerHeartbeat.objects.filter(task_id=task_id).exists():
        assert time.monotonic() < deadline, "the worker did not run the heartbeat task within 30 s"
        time.sleep(0.02)


def test_worker_reuses_its_connection_and_replaces_a_broken_one(celery_worker_thread):
    main = threading.get_ident()
    opened: list[int] = []

    def record(sender, connection, **kwargs):  # type: ignore[no-untyped-def]
        if threading.get_ident() != main:
            opened.append(connection.connection.info.backend_pid)

    connection_created.connect(record)
    try:
        for _ in range(4):
            _heartbeat_through_worker()
        assert len(opened) == 1, f"the worker opened {len(opened)} connections for 4 tasks"

        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [opened[0]])
        for _ in range(2):
            _heartbeat_through_worker()
    finally:
        connection_created.disconnect(record)
    assert len(opened) == 2, "the worker did not replace its terminated connection exactly once"
    assert opened[1] != opened[0]

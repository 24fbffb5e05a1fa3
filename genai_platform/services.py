"""Platform services: worker heartbeats and the readiness checks behind /readyz."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import connections
from django.utils import timezone
from kombu import Connection

from genai_platform.models import WorkerHeartbeat
from genai_platform.queues import Queue


def heartbeat_record(*, queue: str, hostname: str, task_id: str = "") -> WorkerHeartbeat:
    """Called by a worker: remember that ``queue`` has a live consumer."""
    heartbeat, _ = WorkerHeartbeat.objects.update_or_create(
        queue=queue, defaults={"hostname": hostname, "task_id": task_id, "seen_at": timezone.now()}
    )
    return heartbeat


def heartbeat_send(*, queue: Queue) -> str:
    """Ask whichever worker consumes ``queue`` to record a heartbeat; returns the task id."""
    from genai_platform.tasks import heartbeat_task

    result = heartbeat_task.apply_async(kwargs={"queue": queue.value}, queue=queue.value)
    return str(result.id)


def heartbeats_all() -> list[WorkerHeartbeat]:
    return list(WorkerHeartbeat.objects.order_by("queue"))


def heartbeats_since(moment: datetime) -> dict[str, WorkerHeartbeat]:
    return {hb.queue: hb for hb in WorkerHeartbeat.objects.filter(seen_at__gte=moment)}


@dataclass(frozen=True)
class CheckResult:
    ok: bool
    detail: str


def database_check(alias: str = "default") -> CheckResult:
    try:
        with connections[alias].cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any driver error means "not ready"; the reason is reported
        return CheckResult(False, f"{type(exc).__name__}: {exc}".strip()[:300])
    return CheckResult(True, connections[alias].vendor)


def broker_check() -> CheckResult:
    url = settings.CELERY_BROKER_URL
    if url.startswith("filesystem://"):
        folder = str(settings.CELERY_BROKER_TRANSPORT_OPTIONS["data_folder_in"])
        if not os.access(folder, os.W_OK):
            return CheckResult(False, f"broker folder {folder} is not writable")
        return CheckResult(True, "filesystem")
    try:
        with Connection(url, connect_timeout=2, transport_options={"max_retries": 0}) as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=2)
            transport = conn.transport_cls
    except Exception as exc:  # unreachable, refused, bad credentials: all mean "not ready"
        return CheckResult(False, f"{type(exc).__name__}: {exc}".strip()[:300])
    return CheckResult(True, str(transport))


def readiness() -> tuple[bool, dict[str, object]]:
    checks = {"database": database_check(), "broker": broker_check()}
    ready = all(check.ok for check in checks.values())
    body: dict[str, object] = {
        "status": "ready" if ready else "not ready",
        "checks": {name: {"ok": c.ok, "detail": c.detail} for name, c in checks.items()},
    }
    if checks["database"].ok:
        # Informational: a queue without a recent heartbeat has no worker, but the web process
        # can still serve, so this does not make the instance unready.
        now = timezone.now()
        body["workers"] = {
            hb.queue: {"hostname": hb.hostname, "seconds_since_heartbeat": round((now - hb.seen_at).total_seconds())}
            for hb in WorkerHeartbeat.objects.all()
        }
    return ready, body

"""Ask every queue for a heartbeat and report which queues have a live worker."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from genai_platform import services
from genai_platform.queues import Queue


class Command(BaseCommand):
    help = "Send a heartbeat task to each queue and wait for the workers to answer."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--timeout", type=float, default=30.0, help="seconds to wait (default 30)")
        parser.add_argument("--queue", action="append", choices=[q.value for q in Queue], help="only these queues")

    def handle(self, *args: Any, timeout: float, queue: list[str] | None, **options: Any) -> None:
        queues = [Queue(q) for q in queue] if queue else list(Queue)
        started = timezone.now()
        for q in queues:
            services.heartbeat_send(queue=q)
        deadline = time.monotonic() + timeout
        answered: dict[str, Any] = {}
        while time.monotonic() < deadline:
            answered = services.heartbeats_since(started)
            if all(q.value in answered for q in queues):
                break
            time.sleep(0.25)
        for q in queues:
            hb = answered.get(q.value)
            self.stdout.write(f"{q.value:10} " + (f"ok ({hb.hostname})" if hb else "no worker answered"))
        missing = [q.value for q in queues if q.value not in answered]
        if missing:
            raise CommandError(f"No worker answered on: {', '.join(missing)} within {timeout:g} s.")

"""Work the filing plans and another app carries out: that app registers its runner when it starts, so the
filing never imports it (``generation`` answers assessment runs and screens corpus technical checks)."""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["Runner"]


class Runner:
    """Where the callable that queues one kind of job, by the job's id, is registered."""

    def __init__(self, what: str) -> None:
        self.what = what
        self._queue: Callable[[int], None] | None = None

    def register(self, queue: Callable[[int], None]) -> None:
        self._queue = queue

    def enqueue(self, job_id: int) -> None:
        if self._queue is None:
            raise RuntimeError(f"no {self.what} runner is registered: is the generation app installed?")
        self._queue(job_id)

"""How far a running verification has got, for the auditors' integrity banner.

Kept in the cache the web and worker processes share: it is only a progress report. The result itself is
the ``audit.verified`` record the verification appends; the banner calls a verification finished as soon
as a newer one than the last known when it started exists, whatever the cache says.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from django.core.cache import cache
from django.db.models import Max
from django.utils import timezone

from audit.models import LogEntry

_KEY = "audit:verification"
# As long as the verification task may run (audit.tasks.verify_task's time limit).
_TTL_SECONDS = 3600
# A running verification writes its position at most this often.
_REPORT_EVERY_SECONDS = 1.0


def last_verified_seq() -> int:
    return LogEntry.objects.filter(event_type="audit.verified").aggregate(m=Max("seq"))["m"] or 0


def verification_queued() -> None:
    """Called when a verification is sent to the workers: the banner shows it waiting for one."""
    cache.set(
        _KEY,
        {"after": last_verified_seq(), "queued_at": timezone.now().isoformat(), "done": 0, "top": 0},
        _TTL_SECONDS,
    )


def verification_forget() -> None:
    """The verification ended, or could not be sent (no broker): nothing is under way."""
    cache.delete(_KEY)


def verification_reporter() -> Callable[[int], None]:
    """Marks a verification as running and returns the callback that records the last number it checked."""
    state = cache.get(_KEY) or {"after": last_verified_seq(), "queued_at": timezone.now().isoformat()}
    state |= {"done": 0, "top": LogEntry.objects.aggregate(m=Max("seq"))["m"] or 0, "running": True}
    cache.set(_KEY, state, _TTL_SECONDS)
    last_report = [time.monotonic()]

    def report(seq: int) -> None:
        if time.monotonic() - last_report[0] < _REPORT_EVERY_SECONDS:
            return
        last_report[0] = time.monotonic()
        cache.set(_KEY, state | {"done": seq}, _TTL_SECONDS)

    return report


def verification_running() -> dict[str, Any] | None:
    """The verification under way: ``running`` (a worker has it), ``percent``; None once its result is in."""
    state = cache.get(_KEY)
    if not state or last_verified_seq() > state.get("after", 0):
        return None
    top = state.get("top") or 0
    percent = min(99, int(100 * state.get("done", 0) / top)) if top else 0
    return {"running": bool(state.get("running")), "percent": percent}

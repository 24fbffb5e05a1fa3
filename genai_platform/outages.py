"""Remembering that a backing service is down, so that an outage is logged once, not once per request.

Each process keeps its own state: a warning when a service is first found unreachable, one line when it
answers again. Requests in between say nothing more in the log.
"""

from __future__ import annotations

import logging
import threading
import time

from django.utils.translation import gettext_lazy
from kombu.exceptions import OperationalError as KombuOperationalError

logger = logging.getLogger("genai_platform.outages")


class Outage:
    """The state of one backing service in this process (``name`` is what the log calls it)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._lock = threading.Lock()
        self._since: float | None = None

    @property
    def down(self) -> bool:
        return self._since is not None

    def seconds_down(self) -> float:
        since = self._since
        return 0.0 if since is None else time.monotonic() - since

    def failed(self, exc: BaseException, consequence: str) -> None:
        """Record a failure; the first one of an outage is logged with ``consequence`` (what happens now)."""
        with self._lock:
            if self._since is not None:
                return
            self._since = time.monotonic()
        logger.warning(
            "%s unreachable (%s: %s); %s",
            self.name,
            type(exc).__name__,
            str(exc)[:200],
            consequence,
            extra={"service": self.name, "outage": "started"},
        )

    def answered(self) -> None:
        """Record a success; the first one after an outage is logged."""
        if self._since is None:
            return
        with self._lock:
            since, self._since = self._since, None
        if since is not None:
            logger.warning(
                "%s reachable again after %.1f s",
                self.name,
                time.monotonic() - since,
                extra={"service": self.name, "outage": "ended"},
            )


CACHE = Outage("cache (Redis)")
DATABASE = Outage("database")
BROKER = Outage("broker")

# What sending a task raises when the broker cannot be reached.
BROKER_SEND_ERRORS = (KombuOperationalError, OSError)

# The error of background work (a filing export, a training run) whose task could not be sent after its row was
# stored: it is marked failed at once, so that nobody waits for it.
NEVER_SENT = gettext_lazy("The task queue could not be reached when this was started, so it never ran. Start it again.")

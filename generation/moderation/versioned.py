"""What both moderation layers do with what they load: keep it in the process, and ask at most every
``check_seconds`` which version of it is in force, so a change reaches every process without a restart."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

from django.conf import settings

V = TypeVar("V")


class VersionChecked(Generic[V]):
    """The version check of a layer: how often it runs, what it asks, when it last ran, and the lock of reloading.

    ``check_seconds`` defaults to the setting ``MODERATION_VERSION_CHECK_SECONDS`` (2 seconds). The layer calls
    ``_version_loader`` when ``_due()`` says so, and sets ``_checked_at`` when it has checked; one thread at a time
    checks and reloads, holding ``_lock``, while the others keep using what is loaded.
    """

    def __init__(self, *, check_seconds: float | None, version_loader: Callable[[], V]) -> None:
        self.check_seconds = (
            float(getattr(settings, "MODERATION_VERSION_CHECK_SECONDS", 2.0))
            if check_seconds is None
            else check_seconds
        )
        self._version_loader = version_loader
        self._checked_at = float("-inf")
        self._lock = threading.Lock()

    def _due(self) -> bool:
        """Whether ``check_seconds`` have passed since the last check."""
        return time.monotonic() - self._checked_at >= self.check_seconds

"""What the ``backup`` and ``restore`` commands share: how they read the path they are given, and how a refusal of
the backup ends them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.core.management.base import CommandError

from genai_platform.management.backups.manifest import BackupError


def backup_path(given: str) -> Path:
    """The absolute path of the backup folder or archive named on the command line (``~`` expanded)."""
    return Path(given).expanduser().absolute()


@contextmanager
def backup_refusals() -> Iterator[None]:
    """A ``BackupError`` ends the command with its message and exit code 1, not a traceback: it says what to fix."""
    try:
        yield
    except BackupError as exc:
        raise CommandError(str(exc), returncode=1) from None

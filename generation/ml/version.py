"""The code version recorded with training runs and exports: the git commit when there is one."""

from __future__ import annotations

import functools
import subprocess
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[2]


@functools.cache
def code_version() -> str:
    try:
        result = subprocess.run(
            ["git", "-C", str(BASE_DIR), "describe", "--always", "--dirty", "--abbrev=12"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return result.stdout.strip() or "unknown"

"""Set-up steps beyond ``pip install`` that ``make setup`` runs: each is idempotent and quick when done.

Run as ``python -m genai_platform.setup``. A step that cannot be done says so in one sentence and
the platform falls back where it can; only a step the platform cannot run without fails.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent


def messages_compile() -> None:
    """Compile .po catalogues whose .mo is missing or older (the .mo files are also committed)."""
    stale = [
        po
        for po in (BASE_DIR / "locale").rglob("*.po")
        if not po.with_suffix(".mo").exists() or po.with_suffix(".mo").stat().st_mtime < po.stat().st_mtime
    ]
    if not stale:
        return
    if not shutil.which("msgfmt"):
        print("setup: msgfmt (gettext) is missing; using the committed message catalogues.")  # noqa: T201
        return
    for po in stale:
        subprocess.run(["msgfmt", "--check", "-o", str(po.with_suffix(".mo")), str(po)], check=True)


def songci_fetch() -> None:
    """Fetch the Song ci (npm ``chinese-poetry``) into the cache folder outside the repo and extract it once."""
    from generation.ml.data import songci_prepare

    songci_prepare()


STEPS: list[Callable[[], None]] = [messages_compile, songci_fetch]


def main() -> int:
    for step in STEPS:
        step()
    return 0


if __name__ == "__main__":
    sys.exit(main())

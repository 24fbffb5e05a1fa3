"""Set-up steps beyond ``pip install`` that ``make setup`` runs: each is idempotent and quick when done.

Run as ``python -m genai_platform.setup``. A step that cannot be done says so in one sentence and
the platform falls back where it can; only a step the platform cannot run without fails.
"""

from __future__ import annotations

import os
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


def label_font_install() -> None:
    """Install the CJK font that draws the visible "AI生成" label on images (Debian fonts-wqy-microhei).

    Without it no image can be labelled, so every image job would fail: this step fails when it
    cannot install the font and none is configured.
    """
    from generation.labels.explicit import FONT_CANDIDATES, FONT_PACKAGE, font_covers

    configured = os.environ.get("GENAI_LABEL_FONT_PATH", "")
    if configured:
        return  # checked with a clear message when the platform starts
    if any(Path(path).is_file() and font_covers(path) for path in FONT_CANDIDATES):
        return
    if shutil.which("apt-get") and os.geteuid() == 0:
        apt_env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        install = ["apt-get", "install", "-y", "-q", "--no-install-recommends", FONT_PACKAGE]
        if subprocess.run(install, env=apt_env, check=False).returncode != 0:
            subprocess.run(["apt-get", "update", "-q"], env=apt_env, check=False)
            subprocess.run(install, env=apt_env, check=False)
    if not any(Path(path).is_file() and font_covers(path) for path in FONT_CANDIDATES):
        raise SystemExit(
            f"setup: no CJK font for the image labels; install the Debian package {FONT_PACKAGE} "
            "(apt-get install fonts-wqy-microhei) or set GENAI_LABEL_FONT_PATH to a CJK font file."
        )


STEPS: list[Callable[[], None]] = [messages_compile, songci_fetch, label_font_install]


def main() -> int:
    for step in STEPS:
        step()
    return 0


if __name__ == "__main__":
    sys.exit(main())

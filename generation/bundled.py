"""The weights that ship in the repository (``generation/weights/``): where they are and what they claim.

Pure Python (no torch, no ORM): the web process reads the manifest to register the bundled checkpoints, and
the torch code reads it to find the bundled digit classifier. ``generation.ml.weights`` writes both files.
"""

from __future__ import annotations

import hashlib
import json
from functools import cache
from pathlib import Path
from typing import Any

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
RECIPE_PATH = WEIGHTS_DIR / "recipe.json"
MANIFEST_PATH = WEIGHTS_DIR / "manifest.json"


class BundledFileDamaged(ValueError):  # noqa: N818 (the name says what went wrong)
    """A bundled file is missing or does not have the SHA-256 the manifest records for it."""


def recipe() -> dict[str, Any]:
    """How the bundled weights are trained: per net its data, seed, epochs and configuration."""
    return json.loads(RECIPE_PATH.read_text(encoding="utf-8"))


@cache
def _manifest_cached(mtime_ns: int) -> dict[str, Any]:
    return json.loads(MANIFEST_PATH.read_text(encoding="utf-8"))


def manifest() -> dict[str, Any]:
    """What ``make weights`` wrote: each bundled file with its SHA-256, lineage and figures ({} if none yet)."""
    if not MANIFEST_PATH.is_file():
        return {}
    return _manifest_cached(MANIFEST_PATH.stat().st_mtime_ns)


def bundled_bytes(entry: dict[str, Any]) -> bytes:
    """The bytes of one manifest entry's file, refused unless they have the SHA-256 recorded for them."""
    path = WEIGHTS_DIR / entry["file"]
    if not path.is_file():
        raise BundledFileDamaged(f"The bundled file {path} is missing; `git checkout` it or run `make weights`.")
    data = path.read_bytes()
    actual = hashlib.sha256(data).hexdigest()
    if actual != entry["sha256"]:
        raise BundledFileDamaged(
            f"The bundled file {path} has SHA-256 {actual}, but the manifest records {entry['sha256']}: "
            "it was changed or damaged. `git checkout` it or run `make weights`."
        )
    return data

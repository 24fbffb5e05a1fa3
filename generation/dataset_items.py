"""Excerpts of the training data sets this platform holds, for the reviewers of a source safety check (TC260-003
§5.1 a)): a sampled item of the Song ci is its line, a sampled digit its label and a coarse picture in text.

Registered with ``filing`` when the app starts (``dataset_item_reader_register``). It reads the files the
platform trains on, found by the data set's SHA-256, and imports no torch, so it runs in the web process.
"""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path
from typing import Any

from generation.ml.files import DIGITS8_FILE, MNIST5K_FILE, SONGCI_TEXT, default_cache_dir, package_file

# Darker pixels get denser marks; two rows of pixels make one line of text.
_SHADES = " ░▒▓█"

# (path, size, mtime) → SHA-256, so a file is hashed once while it stays the same.
_DIGESTS: dict[tuple[str, int, float], str] = {}


def _digest(path: Path) -> str:
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime)
    if key not in _DIGESTS:
        _DIGESTS[key] = hashlib.sha256(path.read_bytes()).hexdigest()
    return _DIGESTS[key]


def _candidates() -> list[tuple[str, Path, int]]:
    """(kind, path, image side) of each data-set file present on this machine."""
    found: list[tuple[str, Path, int]] = []
    for spec, side in ((MNIST5K_FILE, 28), (DIGITS8_FILE, 8)):
        try:
            found.append(("digits", package_file(*spec), side))
        except FileNotFoundError:
            pass
    text = default_cache_dir() / SONGCI_TEXT
    if text.is_file():
        found.append(("text", text, 0))
    return found


def digit_picture(pixels: list[int], side: int, *, scale: int) -> str:
    """A digit as text: one character per pixel across, one line per two rows of pixels."""
    lines = []
    for row in range(0, side, 2):
        cells = []
        for col in range(side):
            values = [pixels[r * side + col] for r in (row, row + 1) if r < side]
            level = max(values) / scale
            cells.append(_SHADES[min(int(level * len(_SHADES)), len(_SHADES) - 1)])
        lines.append("".join(cells).rstrip())
    return "\n".join(lines).strip("\n")


def _digit_items(path: Path, side: int, indices: set[int]) -> dict[int, str]:
    scale = 255 if side == 28 else 16
    items: dict[int, str] = {}
    for number, line in enumerate(gzip.decompress(path.read_bytes()).decode("ascii").splitlines()):
        if number in indices:
            values = [int(float(v)) for v in line.split(",")]
            items[number] = f"数字 {values[-1]} / digit {values[-1]}\n" + digit_picture(values[:-1], side, scale=scale)
    return items


def _text_items(path: Path, indices: set[int]) -> dict[int, str]:
    items: dict[int, str] = {}
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines):
            if number in indices:
                items[number] = line.rstrip("\n")
    return items


def dataset_text_kind(dataset: Any) -> str | None:
    """``"text"`` or ``"digits"`` for a data set held here, None for one that is not on this machine."""
    for kind, path, _side in _candidates():
        if _digest(path) == dataset.sha256:
            return kind
    return None


def dataset_items_read(dataset: Any, indices: list[int]) -> dict[int, str] | None:
    """The items ``indices`` (numbered from 0 in file order) of ``dataset``, if it is one of the files here."""
    wanted = set(indices)
    for kind, path, side in _candidates():
        if _digest(path) != dataset.sha256:
            continue
        return _digit_items(path, side, wanted) if kind == "digits" else _text_items(path, wanted)
    return None

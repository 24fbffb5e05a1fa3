"""The moderation text classifier: a naive-Bayes-weighted linear model over hashed character n-grams.

The text is read through the character 1- to ``ngram_max``-grams it contains, each hashed with numpy from the
characters' code points into one of ``ngram_buckets`` buckets, so the model needs no vocabulary and reads any
character. Each label has, per bucket, the naive-Bayes log-count ratio of that bucket for the label against the
others, measured on the training texts, and a learned weight: a label's logit is the sum over the buckets present
of ratio × weight, plus a bias (the NB-weighted logistic regression of Wang & Manning, 2012). Scoring a
500-character text costs a few hundred microseconds on one thread.

A character CNN beside it was tried: on COLD it reached 0.885 accuracy alone and added nothing to the mean of
the two, at twenty times the training cost (``benchmarks/docs/classifier.md``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn

from generation.ml.nets.config import ConfigMixin

# Multipliers of the n-gram hash (odd, large, distinct per position), so "ab" and "ba" land apart.
_HASH_MULTIPLIERS = (0x9E3779B1, 0x85EBCA77, 0xC2B2AE3D, 0x27D4EB2F, 0x165667B1)


@dataclass(frozen=True)
class TextClassifierConfig(ConfigMixin):
    # Names of the classes, in output order; the first is the safe class.
    labels: tuple[str, ...] = ("safe", "offensive")
    ngram_max: int = 3
    ngram_buckets: int = 1 << 18
    # Inverse strength of the L2 penalty on the weights (as in scikit-learn's LogisticRegression).
    c: float = 0.3
    # Training: full-batch L-BFGS, this many iterations an epoch.
    iterations_per_epoch: int = 25
    epochs: int = 4
    # Share of the training texts held out to choose the best epoch.
    validation_share: float = 0.1

    def __post_init__(self) -> None:
        if len(self.labels) < 2:
            raise ValueError("A classifier needs at least two labels.")
        if not 1 <= self.ngram_max <= len(_HASH_MULTIPLIERS):
            raise ValueError(f"ngram_max must be from 1 to {len(_HASH_MULTIPLIERS)}, got {self.ngram_max}.")
        if self.c <= 0:
            raise ValueError(f"c must be positive, got {self.c}.")
        # JSON round trips give lists; keep a tuple so configurations compare equal.
        object.__setattr__(self, "labels", tuple(self.labels))

    @classmethod
    def tiny(cls) -> TextClassifierConfig:
        return cls(ngram_buckets=1 << 12, iterations_per_epoch=5, epochs=2)


def code_points(text: str) -> np.ndarray:
    """The text's code points as int64 (the hashes multiply them)."""
    return np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.int64)


def ngram_ids(points: np.ndarray, *, n_max: int, buckets: int) -> np.ndarray:
    """Hashed ids of every character 1- to ``n_max``-gram of the text, distinct ones only."""
    parts = []
    for n in range(1, min(n_max, len(points)) + 1):
        h = np.full(len(points) - n + 1, n, dtype=np.int64)
        for i in range(n):
            h = (h * _HASH_MULTIPLIERS[i] + points[i : len(points) - n + 1 + i]) & 0xFFFFFFFF
        parts.append(h % buckets)
    return np.unique(np.concatenate(parts)) if parts else np.zeros(0, dtype=np.int64)


@dataclass
class Batch:
    """Texts encoded for the net: the n-gram buckets of all texts in one row, and where each text's start."""

    ngrams: torch.Tensor
    offsets: torch.Tensor


class TextClassifier(nn.Module):
    ngram_ratio: torch.Tensor

    def __init__(self, config: TextClassifierConfig) -> None:
        super().__init__()
        self.config = config
        labels = len(config.labels)
        # Naive-Bayes log-count ratio of each bucket for each label (set from the training texts; 1 until then).
        self.register_buffer("ngram_ratio", torch.ones(config.ngram_buckets, labels))
        self.weight = nn.Parameter(torch.zeros(config.ngram_buckets, labels))
        self.bias = nn.Parameter(torch.zeros(labels))

    def encode(self, texts: list[str]) -> Batch:
        config = self.config
        bags = [ngram_ids(code_points(text), n_max=config.ngram_max, buckets=config.ngram_buckets) for text in texts]
        sizes = [len(bag) for bag in bags]
        offsets = torch.tensor([0, *np.cumsum(sizes)[:-1]], dtype=torch.long)
        ngrams = torch.from_numpy(np.concatenate(bags)) if bags else torch.zeros(0, dtype=torch.long)
        device = self.weight.device
        return Batch(ngrams=ngrams.to(device), offsets=offsets.to(device))

    def scaled_weight(self) -> torch.Tensor:
        """Ratio × weight of each bucket and label; kept between calls while neither changes (serving)."""
        version = (self.weight._version, self.ngram_ratio._version, id(self.weight), id(self.ngram_ratio))
        cached = getattr(self, "_scaled", None)
        if torch.is_grad_enabled() or cached is None or cached[0] != version:
            scaled = self.weight * self.ngram_ratio
            if torch.is_grad_enabled():
                return scaled
            self._scaled = (version, scaled)
            return scaled
        return cached[1]

    def forward(self, batch: Batch) -> torch.Tensor:
        """Logits of each label."""
        return F.embedding_bag(batch.ngrams, self.scaled_weight(), batch.offsets, mode="sum") + self.bias

    @torch.no_grad()
    def probabilities(self, texts: list[str]) -> torch.Tensor:
        """Per text, the probability of each label (on the CPU, whichever device the net is on)."""
        if not texts:
            return torch.zeros(0, len(self.config.labels))
        return F.softmax(self(self.encode(texts)), 1).cpu()

"""The moderation text classifier: a character CNN beside a naive-Bayes-weighted n-gram linear model.

Both parts read the text through hashed features computed with numpy from the characters' code points,
so the net needs no vocabulary and reads any character:

- the linear part sums one learned weight per hashed character 1- to ``ngram_max``-gram present in the
  text, each scaled by its naive-Bayes log-count ratio measured on the training texts (the NB-weighted
  logistic regression of Wang & Manning, 2012, trained here by gradient descent);
- the CNN part embeds each character and the bigram it starts, runs convolutions of several widths and
  pools them (max and mean) over the whole text, however long.

The two are trained side by side, each on its own loss, and serve as one: the classifier's probability of
a label is the mean of the two parts' probabilities. The parts make different mistakes, so the mean is
better than either.
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
    # Hashed features: buckets of the linear part's n-grams and of the CNN's characters and bigrams.
    ngram_max: int = 3
    ngram_buckets: int = 1 << 18
    char_buckets: int = 1 << 13
    bigram_buckets: int = 1 << 15
    # The CNN.
    embedding: int = 48
    filters: int = 128
    kernel_sizes: tuple[int, ...] = (1, 2, 3, 5)
    dropout: float = 0.5
    # Characters read when training (served texts are read whole).
    train_chars: int = 160
    # Training.
    batch_size: int = 64
    lr: float = 2e-3
    linear_lr: float = 0.05
    epochs: int = 4
    # Share of the training texts held out to choose the best epoch.
    validation_share: float = 0.1

    def __post_init__(self) -> None:
        if len(self.labels) < 2:
            raise ValueError("A classifier needs at least two labels.")
        if not 1 <= self.ngram_max <= len(_HASH_MULTIPLIERS):
            raise ValueError(f"ngram_max must be from 1 to {len(_HASH_MULTIPLIERS)}, got {self.ngram_max}.")
        if not self.kernel_sizes or min(self.kernel_sizes) < 1:
            raise ValueError("kernel_sizes needs at least one width of 1 or more.")
        # JSON round trips give lists; keep tuples so configurations compare equal.
        object.__setattr__(self, "labels", tuple(self.labels))
        object.__setattr__(self, "kernel_sizes", tuple(self.kernel_sizes))

    @classmethod
    def tiny(cls) -> TextClassifierConfig:
        return cls(
            ngram_buckets=1 << 12,
            char_buckets=1 << 10,
            bigram_buckets=1 << 10,
            embedding=8,
            filters=8,
            kernel_sizes=(1, 3),
            batch_size=16,
            epochs=2,
        )


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


def char_ids(points: np.ndarray, *, char_buckets: int, bigram_buckets: int) -> tuple[np.ndarray, np.ndarray]:
    """Per character: its hashed id and the hashed id of the bigram it starts (id 0 is padding)."""
    chars = points % (char_buckets - 1) + 1
    following = np.append(points[1:], 0)
    bigrams = ((points * _HASH_MULTIPLIERS[0] + following) & 0xFFFFFFFF) % (bigram_buckets - 1) + 1
    return chars, bigrams


@dataclass
class Batch:
    """Texts encoded for the net: padded character and bigram ids, and the n-grams of each text as one bag."""

    chars: torch.Tensor
    bigrams: torch.Tensor
    ngrams: torch.Tensor
    offsets: torch.Tensor


class TextClassifier(nn.Module):
    ngram_ratio: torch.Tensor

    def __init__(self, config: TextClassifierConfig) -> None:
        super().__init__()
        self.config = config
        labels = len(config.labels)
        # Naive-Bayes log-count ratio of each n-gram bucket (set from the training texts; 1 until then).
        self.register_buffer("ngram_ratio", torch.ones(config.ngram_buckets))
        self.linear = nn.EmbeddingBag(config.ngram_buckets, labels, mode="sum", sparse=True)
        nn.init.zeros_(self.linear.weight)
        self.linear_bias = nn.Parameter(torch.zeros(labels))
        self.char_embedding = nn.Embedding(config.char_buckets, config.embedding, padding_idx=0, sparse=True)
        self.bigram_embedding = nn.Embedding(config.bigram_buckets, config.embedding, padding_idx=0, sparse=True)
        self.convs = nn.ModuleList(
            nn.Conv1d(config.embedding, config.filters, width, padding=width // 2) for width in config.kernel_sizes
        )
        self.dropout = nn.Dropout(config.dropout)
        self.head = nn.Linear(2 * config.filters * len(config.kernel_sizes), labels)

    def encode(self, texts: list[str], *, max_chars: int | None = None) -> Batch:
        config = self.config
        points = [code_points(text[:max_chars] if max_chars else text) for text in texts]
        length = max(1, max(len(p) for p in points))
        chars = torch.zeros(len(texts), length, dtype=torch.long)
        bigrams = torch.zeros(len(texts), length, dtype=torch.long)
        bags = []
        for row, p in enumerate(points):
            c, b = char_ids(p, char_buckets=config.char_buckets, bigram_buckets=config.bigram_buckets)
            chars[row, : len(p)] = torch.from_numpy(c)
            bigrams[row, : len(p)] = torch.from_numpy(b)
            bags.append(ngram_ids(p, n_max=config.ngram_max, buckets=config.ngram_buckets))
        sizes = [len(bag) for bag in bags]
        offsets = torch.tensor([0, *np.cumsum(sizes)[:-1]], dtype=torch.long)
        ngrams = torch.from_numpy(np.concatenate(bags)) if bags else torch.zeros(0, dtype=torch.long)
        return Batch(chars=chars, bigrams=bigrams, ngrams=ngrams, offsets=offsets)

    def linear_logits(self, batch: Batch) -> torch.Tensor:
        weights = self.ngram_ratio[batch.ngrams]
        return self.linear(batch.ngrams, batch.offsets, per_sample_weights=weights) + self.linear_bias

    def cnn_logits(self, batch: Batch) -> torch.Tensor:
        mask = (batch.chars > 0).unsqueeze(1)
        x = self.dropout(self.char_embedding(batch.chars) + self.bigram_embedding(batch.bigrams)).transpose(1, 2)
        pooled = []
        length = batch.chars.shape[1]
        counts = mask.sum(2).clamp(min=1)
        for conv in self.convs:
            h = F.relu(conv(x))[:, :, :length]
            pooled.append(h.masked_fill(~mask, 0.0).amax(2))  # ReLU output is ≥ 0, so 0 never beats a real value
            pooled.append(h.masked_fill(~mask, 0.0).sum(2) / counts)
        return self.head(self.dropout(torch.cat(pooled, 1)))

    def forward(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits of the linear part and of the CNN part."""
        return self.linear_logits(batch), self.cnn_logits(batch)

    @torch.no_grad()
    def probabilities(self, texts: list[str]) -> torch.Tensor:
        """Per text, the probability of each label: the mean of the two parts' probabilities."""
        if not texts:
            return torch.zeros(0, len(self.config.labels))
        was_training = self.training
        self.eval()
        try:
            linear, cnn = self(self.encode(texts))
            return (F.softmax(linear, 1) + F.softmax(cnn, 1)) / 2
        finally:
            self.train(was_training)

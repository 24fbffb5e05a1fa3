"""Training the moderation text classifier on labelled texts; epochs are compared on a held-out share of them.

The held-out share comes from the training texts, so a separate evaluation set (COLD's development split)
stays unseen until the quality gate measures the chosen epoch on it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812

from generation.ml.data import LabelledTexts
from generation.ml.nets.textclf import TextClassifier, TextClassifierConfig, code_points, ngram_ids
from generation.ml.training.base import Clock

# Texts scored at once when measuring.
SCORE_BATCH = 256


@dataclass(frozen=True)
class ClassificationFigures:
    accuracy: float
    macro_f1: float
    precision: float  # of the positive (offensive) class
    recall: float
    items: int

    def as_dict(self, prefix: str = "") -> dict[str, float]:
        return {
            f"{prefix}accuracy": self.accuracy,
            f"{prefix}macro_f1": self.macro_f1,
            f"{prefix}precision": self.precision,
            f"{prefix}recall": self.recall,
            f"{prefix}items": self.items,
        }


def classification_figures(truth: Sequence[int], predicted: Sequence[int]) -> ClassificationFigures:
    """Accuracy, macro-F1 over both classes, and precision and recall of class 1."""
    y, p = np.asarray(truth, dtype=np.int64), np.asarray(predicted, dtype=np.int64)
    if len(y) == 0 or len(y) != len(p):
        raise ValueError("Figures need as many predictions as labels, and at least one.")
    f1s = []
    for positive in (0, 1):
        tp = int(((p == positive) & (y == positive)).sum())
        fp = int(((p == positive) & (y != positive)).sum())
        fn = int(((p != positive) & (y == positive)).sum())
        f1s.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    tp = int(((p == 1) & (y == 1)).sum())
    return ClassificationFigures(
        accuracy=float((y == p).mean()),
        macro_f1=float(np.mean(f1s)),
        precision=tp / int((p == 1).sum()) if (p == 1).any() else 0.0,
        recall=tp / int((y == 1).sum()) if (y == 1).any() else 0.0,
        items=len(y),
    )


def positive_scores(
    net: TextClassifier, texts: Sequence[str], *, should_stop: Callable[[], bool] | None = None
) -> np.ndarray:
    """The probability of the last (offensive) label for each text, in batches."""
    scores = []
    for start in range(0, len(texts), SCORE_BATCH):
        if should_stop is not None and should_stop():
            from generation.ml.metrics import MeasurementStopped

            raise MeasurementStopped
        scores.append(net.probabilities(list(texts[start : start + SCORE_BATCH]))[:, -1].numpy())
    return np.concatenate(scores) if scores else np.zeros(0)


def ngram_log_ratios(texts: Sequence[str], labels: Sequence[int], config: TextClassifierConfig) -> torch.Tensor:
    """Naive-Bayes log-count ratio of each n-gram bucket: log P(bucket | offensive) / P(bucket | safe), add-one."""
    counts = np.ones((2, config.ngram_buckets))
    for text, label in zip(texts, labels, strict=True):
        buckets = ngram_ids(code_points(text), n_max=config.ngram_max, buckets=config.ngram_buckets)
        counts[1 if label else 0, buckets] += 1
    ratio = np.log(counts[1] / counts[1].sum()) - np.log(counts[0] / counts[0].sum())
    return torch.tensor(ratio, dtype=torch.float32)


class ClassifierTrainer:
    def __init__(self, seed: int, config: TextClassifierConfig, data: LabelledTexts, clock_budget: int | None) -> None:
        if len(set(data.labels)) < 2:
            raise ValueError(f"{data.name} has texts of one label only; a classifier needs both.")
        self.config = config
        self.generator = torch.Generator().manual_seed(seed)
        order = np.random.default_rng(seed).permutation(len(data.texts))
        held = max(1, int(len(order) * config.validation_share))
        self.train_texts = [data.texts[i] for i in order[held:]]
        self.train_labels = torch.tensor([data.labels[i] for i in order[held:]], dtype=torch.long)
        self.validation_texts = [data.texts[i] for i in order[:held]]
        self.validation_labels = [data.labels[i] for i in order[:held]]
        self.net = TextClassifier(config)
        self.net.ngram_ratio.copy_(ngram_log_ratios(self.train_texts, self.train_labels.tolist(), config))
        # The tables of hashed features get sparse gradients (only the rows a batch uses), with their own optimiser.
        net = self.net
        self.sparse = torch.optim.SparseAdam(
            [
                {"params": [net.linear.weight], "lr": config.linear_lr},
                {"params": [net.char_embedding.weight, net.bigram_embedding.weight], "lr": config.lr},
            ]
        )
        tables = {id(net.linear.weight), id(net.char_embedding.weight), id(net.bigram_embedding.weight)}
        dense = [p for p in net.parameters() if id(p) not in tables]
        self.dense = torch.optim.Adam(dense, lr=config.lr)
        self.steps_per_epoch = math.ceil(len(self.train_texts) / config.batch_size)
        self.total_steps = clock_budget * self.steps_per_epoch if clock_budget else None
        self.step = 0

    def _lr_scale(self, clock: Clock) -> float:
        return 0.5 * (1.0 + math.cos(math.pi * clock.progress(self.step, self.total_steps)))

    def train_epoch(self, epoch: int, clock: Clock) -> tuple[dict[str, float], int]:
        config = self.config
        self.net.train()
        order = torch.randperm(len(self.train_texts), generator=self.generator)
        totals = {"linear_loss": 0.0, "cnn_loss": 0.0}
        steps = 0
        for start in range(0, len(order), config.batch_size):
            if clock.stop_now():
                break
            rows = order[start : start + config.batch_size]
            batch = self.net.encode([self.train_texts[i] for i in rows], max_chars=config.train_chars)
            labels = self.train_labels[rows]
            scale = self._lr_scale(clock)
            self.sparse.param_groups[0]["lr"] = config.linear_lr * scale
            self.sparse.param_groups[1]["lr"] = config.lr * scale
            self.dense.param_groups[0]["lr"] = config.lr * scale
            linear, cnn = self.net(batch)
            linear_loss, cnn_loss = F.cross_entropy(linear, labels), F.cross_entropy(cnn, labels)
            self.sparse.zero_grad(set_to_none=True)
            self.dense.zero_grad(set_to_none=True)
            (linear_loss + cnn_loss).backward()
            self.sparse.step()
            self.dense.step()
            self.step += 1
            steps += 1
            totals["linear_loss"] += linear_loss.item()
            totals["cnn_loss"] += cnn_loss.item()
        return {name: total / max(steps, 1) for name, total in totals.items()}, steps

    def export_state(self) -> dict[str, torch.Tensor]:
        return self.net.state_dict()

    def evaluate(self, should_stop: Callable[[], bool] | None = None) -> tuple[dict[str, float], float]:
        """Figures on the held-out share; the value compared between epochs is the error rate (lower is better)."""
        scores = positive_scores(self.net, self.validation_texts, should_stop=should_stop)
        figures = classification_figures(self.validation_labels, (scores >= 0.5).astype(int).tolist())
        error = 1.0 - figures.accuracy
        return {"validation_error": error, **figures.as_dict("validation_")}, error

"""Training the moderation text classifier on labelled texts; epochs are compared on a held-out share of them.

The held-out share comes from the training texts, so a separate evaluation set (COLD's development split)
stays unseen until the quality gate measures the chosen epoch on it.
"""

from __future__ import annotations

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


def ngram_matrix(texts: Sequence[str], config: TextClassifierConfig) -> torch.Tensor:
    """Which n-gram buckets each text has: a sparse 0/1 matrix of texts × buckets."""
    rows = [ngram_ids(code_points(text), n_max=config.ngram_max, buckets=config.ngram_buckets) for text in texts]
    row_ids = np.repeat(np.arange(len(rows)), [len(r) for r in rows])
    columns = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)
    indices = torch.from_numpy(np.stack([row_ids, columns]))
    values = torch.ones(len(columns))
    return torch.sparse_coo_tensor(indices, values, (len(rows), config.ngram_buckets)).coalesce()


def ngram_log_ratios(present: torch.Tensor, labels: torch.Tensor, classes: int) -> torch.Tensor:
    """Per bucket and label, the naive-Bayes log-count ratio log P(bucket | label) / P(bucket | others), add-one."""
    one_hot = F.one_hot(labels, classes).float()
    counts = torch.sparse.mm(present.t(), one_hot) + 1.0  # buckets × labels: texts of the label having the bucket
    others = torch.sparse.mm(present.t(), 1.0 - one_hot) + 1.0
    return torch.log(counts / counts.sum(0)) - torch.log(others / others.sum(0))


class ClassifierTrainer:
    """Fits the classifier by full-batch L-BFGS on its regularised log-loss; an epoch is a number of iterations."""

    def __init__(
        self,
        seed: int,
        config: TextClassifierConfig,
        data: LabelledTexts,
        clock_budget: int | None,
        *,
        device: torch.device | str = "cpu",
    ) -> None:
        self.device = torch.device(device)
        classes = len(config.labels)
        if len(set(data.labels)) < 2:
            raise ValueError(f"{data.name} has texts of one label only; a classifier needs at least two.")
        if max(data.labels) >= classes:
            raise ValueError(f"{data.name} has labels up to {max(data.labels)}, but the classifier knows {classes}.")
        self.config = config
        order = np.random.default_rng(seed).permutation(len(data.texts))
        held = max(1, int(len(order) * config.validation_share))
        self.train_texts = [data.texts[i] for i in order[held:]]
        self.train_labels = torch.tensor([data.labels[i] for i in order[held:]], dtype=torch.long, device=self.device)
        self.validation_texts = [data.texts[i] for i in order[:held]]
        self.validation_labels = [data.labels[i] for i in order[:held]]
        self.net = TextClassifier(config).to(self.device)
        self.present = ngram_matrix(self.train_texts, config).to(self.device)
        self.net.ngram_ratio.copy_(ngram_log_ratios(self.present, self.train_labels, classes))
        self.optimizer = torch.optim.LBFGS(
            [self.net.weight, self.net.bias],
            max_iter=config.iterations_per_epoch,
            history_size=20,
            line_search_fn="strong_wolfe",
        )
        # The L2 penalty per text, so the optimum is scikit-learn's for the same C.
        self.penalty = 1.0 / (2.0 * config.c * len(self.train_texts))
        self.total_steps = clock_budget
        self.step = 0

    def _loss(self) -> torch.Tensor:
        net = self.net
        logits = torch.sparse.mm(self.present, net.weight * net.ngram_ratio) + net.bias
        return F.cross_entropy(logits, self.train_labels) + self.penalty * net.weight.pow(2).sum()

    def train_epoch(self, epoch: int, clock: Clock) -> tuple[dict[str, float], int]:
        if clock.stop_now():
            return {}, 0
        self.net.train()

        def closure() -> torch.Tensor:
            self.optimizer.zero_grad(set_to_none=True)
            loss = self._loss()
            loss.backward()
            return loss

        self.optimizer.step(closure)
        self.step += 1
        with torch.no_grad():
            loss = self._loss().item()
        return {"train_loss": loss}, 1

    def export_state(self) -> dict[str, torch.Tensor]:
        return {name: value.detach().clone() for name, value in self.net.state_dict().items()}

    def evaluate(self, should_stop: Callable[[], bool] | None = None) -> tuple[dict[str, float], float]:
        """Figures on the held-out share; the value compared between epochs is the error rate (lower is better)."""
        self.net.eval()
        scores = positive_scores(self.net, self.validation_texts, should_stop=should_stop)
        figures = classification_figures(self.validation_labels, (scores >= 0.5).astype(int).tolist())
        error = 1.0 - figures.accuracy
        return {"validation_error": error, **figures.as_dict("validation_")}, error

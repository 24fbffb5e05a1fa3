"""The moderation classifier against a TF-IDF character n-gram logistic regression, on COLD's development split.

Both are trained in this run on COLD's training split; the baseline's n-gram range and regularisation are chosen
on the same held-out share of the training texts that chooses the classifier's best epoch, so neither sees the
development comments before it is measured. Prints accuracy, macro-F1, precision and recall of the offensive
class for both, the classifier's lead, and its training time in CPU minutes (the training budget's measure).

    python benchmarks/bench_classifier.py                # train both, one torch thread
    python benchmarks/bench_classifier.py --threads 2 --epochs 3
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
if str(BASE_DIR) not in sys.path:
    sys.path.insert(0, str(BASE_DIR))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from generation.ml.data import LabelledTexts, cold  # noqa: E402
from generation.ml.nets.textclf import TextClassifierConfig  # noqa: E402
from generation.ml.training.base import Clock  # noqa: E402
from generation.ml.training.classifier import (  # noqa: E402
    ClassificationFigures,
    ClassifierTrainer,
    classification_figures,
    positive_scores,
)

# The baseline's grid: character n-gram ranges and inverse regularisation strengths.
BASELINE_NGRAMS = ((1, 2), (1, 3))
BASELINE_C = (1.0, 4.0)
# Goals of the classifier on the development split.
GOAL_ACCURACY = 0.82
GOAL_MACRO_F1 = 0.81
GOAL_LEAD = 0.02
GOAL_CPU_MINUTES = 15.0


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=1, help="torch threads while training (default 1)")
    parser.add_argument("--epochs", type=int, help="the classifier's epochs (default: its configuration's)")
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(argv)


def baseline(train: LabelledTexts, dev: LabelledTexts, validation_share: float, seed: int) -> ClassificationFigures:
    """TF-IDF character n-grams (sublinear term frequency) and logistic regression, its settings chosen on held-out
    training texts, then refitted on all of them."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    order = np.random.default_rng(seed).permutation(len(train.texts))
    held = max(1, int(len(order) * validation_share))
    fit_texts = [train.texts[i] for i in order[held:]]
    fit_labels = [train.labels[i] for i in order[held:]]
    held_texts = [train.texts[i] for i in order[:held]]
    held_labels = [train.labels[i] for i in order[:held]]
    best: tuple[float, tuple[int, int], float] | None = None
    for ngrams in BASELINE_NGRAMS:
        vectoriser = TfidfVectorizer(analyzer="char", ngram_range=ngrams, sublinear_tf=True)
        features = vectoriser.fit_transform(fit_texts)
        for c in BASELINE_C:
            model = LogisticRegression(C=c, max_iter=2000).fit(features, fit_labels)
            accuracy = float((model.predict(vectoriser.transform(held_texts)) == np.asarray(held_labels)).mean())
            print(f"  baseline char {ngrams[0]}-{ngrams[1]}-grams, C={c:g}: held-out accuracy {accuracy:.4f}")
            if best is None or accuracy > best[0]:
                best = (accuracy, ngrams, c)
    assert best is not None
    _, ngrams, c = best
    vectoriser = TfidfVectorizer(analyzer="char", ngram_range=ngrams, sublinear_tf=True)
    model = LogisticRegression(C=c, max_iter=2000).fit(vectoriser.fit_transform(train.texts), list(train.labels))
    print(f"  baseline chosen: char {ngrams[0]}-{ngrams[1]}-grams, C={c:g}, refitted on all training texts")
    return classification_figures(dev.labels, model.predict(vectoriser.transform(dev.texts)).tolist())


def classifier(
    train: LabelledTexts, dev: LabelledTexts, config: TextClassifierConfig, seed: int
) -> tuple[ClassificationFigures, float]:
    """The classifier's dev figures for its best epoch (chosen on the held-out share) and its training CPU minutes."""
    torch.manual_seed(seed)
    trainer = ClassifierTrainer(seed, config, train, config.epochs)
    clock = Clock(None, None, "cpu")
    best: tuple[float, dict[str, torch.Tensor]] | None = None
    for epoch in range(1, config.epochs + 1):
        losses, _ = trainer.train_epoch(epoch, clock)
        clock.pause()
        scores, error = trainer.evaluate()
        clock.resume()
        print(
            f"  classifier epoch {epoch}: held-out accuracy {scores['validation_accuracy']:.4f}, "
            f"losses {', '.join(f'{k} {v:.3f}' for k, v in losses.items())}, {clock.elapsed() / 60:.2f} CPU-min"
        )
        if best is None or error < best[0]:
            best = (error, {k: v.clone() for k, v in trainer.export_state().items()})
    assert best is not None
    trainer.net.load_state_dict(best[1])
    predicted = (positive_scores(trainer.net, dev.texts) >= 0.5).astype(int).tolist()
    return classification_figures(dev.labels, predicted), clock.elapsed() / 60


def _row(name: str, f: ClassificationFigures) -> str:
    return f"{name:<12} {f.accuracy:>9.4f} {f.macro_f1:>9.4f} {f.precision:>10.4f} {f.recall:>8.4f}"


def main(argv: list[str] | None = None) -> int:
    options = _arguments(argv)
    previous = torch.get_num_threads()
    torch.set_num_threads(options.threads)
    try:
        train, dev = cold("train"), cold("dev")
        config = TextClassifierConfig()
        if options.epochs:
            config = config.replace(epochs=options.epochs)
        print(f"COLD: {len(train.texts)} training and {len(dev.texts)} development comments")
        started = time.process_time()
        base = baseline(train, dev, config.validation_share, options.seed)
        base_minutes = (time.process_time() - started) / 60
        ours, minutes = classifier(train, dev, config, options.seed)
    finally:
        torch.set_num_threads(previous)
    print(f"\n{'on dev':<12} {'accuracy':>9} {'macro-F1':>9} {'precision':>10} {'recall':>8}")
    print(_row("baseline", base))
    print(_row("classifier", ours))
    lead = ours.accuracy - base.accuracy
    print(
        f"\nclassifier lead over the baseline: {lead * 100:+.2f} points of accuracy "
        f"(goal ≥ {GOAL_LEAD * 100:.0f}); accuracy {ours.accuracy:.4f} (goal ≥ {GOAL_ACCURACY}), "
        f"macro-F1 {ours.macro_f1:.4f} (goal ≥ {GOAL_MACRO_F1})"
    )
    print(
        f"training: classifier {minutes:.2f} CPU-minutes on {options.threads} thread(s) (goal ≤ {GOAL_CPU_MINUTES:g}); "
        f"baseline {base_minutes:.2f} CPU-minutes with its grid"
    )
    met = (
        lead >= GOAL_LEAD
        and ours.accuracy >= GOAL_ACCURACY
        and ours.macro_f1 >= GOAL_MACRO_F1
        and minutes <= GOAL_CPU_MINUTES
    )
    print(f"goals {'met' if met else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

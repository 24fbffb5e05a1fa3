"""The figures a checkpoint is judged by: the same code for the quality gate, ``make weights`` and the benchmark.

Each function measures a loaded net against data it was not chosen on (the test digits, the held-out text) and
returns plain floats under stable keys, with the baselines or floors the figures are read against:

- GAN: ``digit_fid`` (mean over ``draws`` draws of as many generated digits as there are training digits,
  against the test digits), ``digit_fid_floor`` (real training digits against the test digits),
  ``digit_fid_ratio`` (the first over the second) and ``conditional_accuracy`` (share of generated digits the
  classifier reads as the digit asked for);
- VAE: ``test_nats`` (−ELBO per test digit) beside ``independent_pixel_nats``;
- LM: ``nats_per_char`` on the held-out text beside ``bigram_nats_per_char`` (``bigram_margin`` is how much
  better the net is), and on the corpus's most common tunes ``whole_piece_rate`` (share of pieces the net,
  left to itself, ends as a whole piece) and ``free_form_rate`` / ``guided_form_rate`` (share of pieces in the
  tune's most common form, left to itself and guided by the form);
- classifier: on COLD's development split, never trained on, ``accuracy``, ``macro_f1`` (over both classes),
  ``precision`` and ``recall`` of the offensive class, and ``items``; a text is read as offensive when the
  offensive class is the likelier one.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from generation.ml import metrics
from generation.ml.data import DigitData, LabelledTexts, TextCorpus, cold, text_split
from generation.ml.metrics import MeasurementStopped
from generation.ml.nets.attention import CharTransformer
from generation.ml.nets.gan import ConditionalGan
from generation.ml.nets.textclf import TextClassifier
from generation.ml.nets.vae import ConvVae, binarize
from generation.ml.sampling import gan_sample_labels, lm_sample, lm_sample_piece
from generation.ml.training.classifier import classification_figures, positive_scores
from generation.tunes import PIECE_END_MARKS, Tune, clause_lengths, tune_table

GAN_DRAWS = 5
LM_PIECES_PER_TUNE = 5
FIGURE_SEED = 7000
# A text is read as offensive when the classifier gives the offensive class at least this probability: the
# likelier of the two classes. The moderation step's own thresholds are configuration (the safety thresholds).
CLASSIFIER_FIGURE_SCORE = 0.5


__all__ = [
    "MeasurementStopped",
    "classifier_figures",
    "figures_for",
    "gan_figures",
    "lm_figures",
    "measured_on",
    "vae_figures",
]

Stop = Callable[[], bool] | None


def _check(should_stop: Stop) -> None:
    if should_stop is not None and should_stop():
        raise MeasurementStopped


def gan_figures(
    net: ConditionalGan, data: DigitData, *, draws: int = GAN_DRAWS, seed: int = FIGURE_SEED, should_stop: Stop = None
) -> dict[str, Any]:
    """Digit-FID against the test digits (mean of ``draws`` draws) over the floor, and conditional accuracy."""
    if draws < 1:
        raise ValueError(f"Measure at least one draw of generated digits, got {draws}.")
    classifier = metrics.digit_classifier(data)
    test_features, _ = metrics.classifier_features(classifier, data.test_x)
    train_features, _ = metrics.classifier_features(classifier, data.train_x)
    floor = metrics.fid(train_features, test_features)
    labels = torch.arange(len(data.train_x)) % net.config.classes
    fids, correct = [], 0
    for draw in range(draws):
        _check(should_stop)
        images = gan_sample_labels(net, labels, seed=seed + 1000 * draw)
        features, predicted = metrics.classifier_features(classifier, images, should_stop=should_stop)
        fids.append(metrics.fid(features, test_features))
        correct += int((predicted == labels.numpy()).sum())
    mean = statistics.fmean(fids)
    return {
        "digit_fid": mean,
        "digit_fid_spread": statistics.stdev(fids) if len(fids) > 1 else 0.0,
        "digit_fid_floor": floor,
        "digit_fid_ratio": mean / floor,
        "conditional_accuracy": correct / (draws * len(labels)),
        "draws": draws,
        "classifier_sha256": metrics.weights_sha256(classifier),
    }


def vae_figures(net: ConvVae, data: DigitData, *, seed: int = FIGURE_SEED, should_stop: Stop = None) -> dict[str, Any]:
    """Test −ELBO in nats per digit, and what a model of independent pixels scores on the same digits."""
    train_bits = binarize(data.train_x).flatten(1)
    test_bits = binarize(data.test_x).flatten(1)
    p = (train_bits.sum(0) + 1.0) / (len(train_bits) + 2.0)
    independent = float(-(test_bits * p.log() + (1 - test_bits) * (1 - p).log()).sum(1).mean())
    return {"test_nats": metrics.vae_test_nats(net, data.test_x, seed=seed), "independent_pixel_nats": independent}


def lm_tune_samples(
    net: CharTransformer,
    tunes: list[Tune],
    *,
    guided: bool,
    per_tune: int = LM_PIECES_PER_TUNE,
    seed: int = FIGURE_SEED,
    temperature: float = 0.8,
    top_k: int | None = 40,
    should_stop: Stop = None,
) -> list[tuple[Tune, str]]:
    """``per_tune`` pieces for each tune, written from the tune's name alone: guided by its form, or left free."""
    pieces = []
    for t, tune in enumerate(tunes):
        for n in range(per_tune):
            _check(should_stop)
            sample_seed = seed + 100 * t + n
            if guided:
                body = lm_sample_piece(
                    net,
                    tune=tune.name,
                    form=tune.form,
                    opening="",
                    temperature=temperature,
                    top_k=top_k,
                    seed=sample_seed,
                )
            else:
                cap = min(net.config.max_new_chars, 2 * tune.characters + 20)
                body = lm_sample(
                    net,
                    prompt=f"{tune.name}：",
                    max_chars=cap,
                    temperature=temperature,
                    top_k=top_k,
                    seed=sample_seed,
                    include_prompt=False,
                    stop_at_newline=True,
                )
            pieces.append((tune, body))
    return pieces


def is_whole_piece(tune: Tune, body: str) -> bool:
    """A piece the net ended itself, with a mark that ends a piece, and at least half as long as the tune's form."""
    return bool(body) and body[-1] in PIECE_END_MARKS and sum(clause_lengths(body)) >= sum(tune.form) / 2


def lm_figures(
    net: CharTransformer,
    corpus: TextCorpus,
    *,
    tunes: list[Tune] | None = None,
    per_tune: int = LM_PIECES_PER_TUNE,
    max_chars: int | None = None,
    seed: int = FIGURE_SEED,
    should_stop: Stop = None,
) -> dict[str, Any]:
    """Held-out nats per character against the n-gram baselines, and how whole and well-formed its pieces are."""
    train_text, test_text = text_split(corpus)
    scored = test_text[: max_chars + 1] if max_chars else test_text
    nats = metrics.lm_nats_per_char(net, scored, should_stop=should_stop)
    baselines = metrics.ngram_baselines(train_text, scored, net.config.vocab)
    figures: dict[str, Any] = {
        "nats_per_char": nats,
        "bigram_nats_per_char": baselines.bigram,
        "unigram_nats_per_char": baselines.unigram,
        "bigram_margin": baselines.bigram - nats,
    }
    tunes = tune_table(train_text) if tunes is None else tunes
    if not tunes:
        # Not a corpus of pieces to tunes: nothing the net writes can be a whole piece of one.
        return figures | {"tunes": 0, "whole_piece_rate": 0.0, "free_form_rate": 0.0, "guided_form_rate": 0.0}
    free = lm_tune_samples(net, tunes, guided=False, per_tune=per_tune, seed=seed, should_stop=should_stop)
    guided = lm_tune_samples(net, tunes, guided=True, per_tune=per_tune, seed=seed, should_stop=should_stop)
    return figures | {
        "tunes": len(tunes),
        "whole_piece_rate": _share(free, is_whole_piece),
        "free_form_rate": _share(free, lambda tune, body: clause_lengths(body) == tune.form),
        "guided_form_rate": _share(guided, lambda tune, body: clause_lengths(body) == tune.form),
    }


def corpus_form_rate(corpus: TextCorpus, tunes: list[Tune]) -> float:
    """Share of the held-out pieces of ``tunes`` that are in their tune's most common form (the corpus's own rate)."""
    _, test_text = text_split(corpus)
    forms = {tune.name: tune.form for tune in tunes}
    hits = [
        clause_lengths(body) == forms[name]
        for name, _, body in (line.partition("：") for line in test_text.splitlines())
        if name in forms
    ]
    return float(np.mean(hits)) if hits else 0.0


def _share(pieces: list[tuple[Tune, str]], test: Callable[[Tune, str], bool]) -> float:
    return sum(test(tune, body) for tune, body in pieces) / len(pieces) if pieces else 0.0


def classifier_figures(net: TextClassifier, data: LabelledTexts, *, should_stop: Stop = None) -> dict[str, Any]:
    """Accuracy, macro-F1, and the offensive class's precision and recall on ``data``."""
    scores = positive_scores(net, data.texts, should_stop=should_stop)
    return classification_figures(data.labels, (scores >= CLASSIFIER_FIGURE_SCORE).astype(int).tolist()).as_dict()


def measured_on(kind: str, data: DigitData | TextCorpus | LabelledTexts) -> DigitData | TextCorpus | LabelledTexts:
    """What the figures of a net of ``kind`` trained on ``data`` are measured on.

    The generators' figures take the held-out part of their own data set (its test digits, its held-out text);
    the classifier's, COLD's development split, which no training reads.
    """
    return cold("dev") if kind == "classifier" else data


# Each kind of net: the data its figures are measured on, and the function that measures them.
_FIGURES: dict[str, tuple[type, Callable[..., dict[str, Any]]]] = {
    "gan": (DigitData, gan_figures),
    "vae": (DigitData, vae_figures),
    "lm": (TextCorpus, lm_figures),
    "classifier": (LabelledTexts, classifier_figures),
}


def figures_for(kind: str, net: Any, data: DigitData | TextCorpus | LabelledTexts, **options: Any) -> dict[str, Any]:
    """The figures of a net of ``kind`` on ``data`` (see the module's docstring for their keys)."""
    if kind not in _FIGURES:
        raise ValueError(f"Unknown net kind {kind!r}; expected gan, vae, lm or classifier.")
    data_type, figures = _FIGURES[kind]
    assert isinstance(data, data_type)
    return figures(net, data, **options)

"""The single entry point ``train``: it builds the trainer of a kind, runs its epochs within the budget, keeps the
best epoch's checkpoint, and reports through callbacks."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import torch

from generation.ml import metrics
from generation.ml.checkpoints import checkpoint_dumps, checkpoint_sha256
from generation.ml.data import DigitData, LabelledTexts, TextCorpus, cold, mnist5k, songci
from generation.ml.nets.attention import LmConfig
from generation.ml.nets.gan import GanConfig
from generation.ml.nets.textclf import TextClassifierConfig
from generation.ml.nets.vae import VaeConfig
from generation.ml.training.base import METRIC_NAMES, Clock, EpochReport, Kind, SearchStopped, TrainResult
from generation.ml.training.classifier import ClassifierTrainer
from generation.ml.training.gan import GanTrainer, with_calibrated_latent_scale
from generation.ml.training.lm import LmTrainer
from generation.ml.training.vae import VaeTrainer
from generation.tunes import tune_table


def train(
    kind: Kind,
    *,
    seed: int,
    epochs: int | None = None,
    minutes: float | None = None,
    config: dict[str, Any] | None = None,
    data: DigitData | TextCorpus | LabelledTexts | None = None,
    on_epoch: Callable[[EpochReport], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    threads: int | None = None,
    cache_dir: Path | None = None,
    budget_clock: Literal["wall", "cpu"] = "wall",
    on_phase: Callable[[str], None] | None = None,
    device: torch.device | str = "cpu",
) -> TrainResult:
    """Train a net; stop after ``epochs`` or ``minutes`` (whichever comes first; the config's epochs if neither).

    The checkpoint returned is the epoch with the best quality metric (lowest), not simply the last.
    The GAN's epochs are compared by digit-FID against its training digits and the VAE's on a tenth of
    its training digits held out from training, so the test digits are left for the benchmark; the
    LM's on its held-out text (with its learning rate decaying to the end of the budget, the last
    epoch has been the best in every run measured); the classifier's by its error rate on a share of its
    training texts held out from training (COLD's dev split is left for the quality gate).
    With an epoch budget the run is deterministic for a seed on CPU; a time budget is not, since the
    number of steps depends on the machine. ``threads`` sets torch's intra-op threads for the run
    (restored afterwards). ``cache_dir`` holds the digit classifier used for the GAN's metric.
    ``budget_clock="cpu"`` counts ``minutes`` in CPU time per thread instead of wall time.
    ``on_phase("choosing")`` is called when the GAN's training ends and the search for its noise scale starts;
    a run stopped by ``should_stop`` skips that search (or ends it early) and keeps its best epoch as it was.
    ``device`` is where the net and its training data live (``generation.ml.device.device_resolve`` turns a
    configured name into one); random draws come from CPU generators whichever it is, and the checkpoint holds
    CPU tensors. The GAN's digit classifier, which measures it, stays on the CPU.
    """
    if kind not in METRIC_NAMES:
        raise ValueError(f"Unknown net kind {kind!r}; expected gan, vae, lm or classifier.")
    if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed < 2**63:
        raise ValueError(f"The seed must be a whole number from 0 to 2**63 - 1, got {seed!r}.")
    if epochs is not None and (not isinstance(epochs, int) or epochs < 1):
        raise ValueError(f"epochs must be a whole number of at least 1, got {epochs!r}.")
    if minutes is not None and not (isinstance(minutes, int | float) and minutes > 0):
        raise ValueError(f"minutes must be a positive number, got {minutes!r}.")
    if threads is not None and (not isinstance(threads, int) or threads < 1):
        raise ValueError(f"threads must be a whole number of at least 1, got {threads!r}.")

    previous_threads = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        clock = Clock(minutes, should_stop, budget_clock)
        return _train(
            kind, seed, epochs, minutes, config or {}, data, on_epoch, clock, cache_dir, on_phase, torch.device(device)
        )
    finally:
        torch.set_num_threads(previous_threads)


def _train(
    kind: Kind,
    seed: int,
    epochs: int | None,
    minutes: float | None,
    config_values: dict[str, Any],
    data: DigitData | TextCorpus | LabelledTexts | None,
    on_epoch: Callable[[EpochReport], None] | None,
    clock: Clock,
    cache_dir: Path | None,
    on_phase: Callable[[str], None] | None = None,
    device: torch.device | None = None,
) -> TrainResult:
    device = device or torch.device("cpu")
    torch.manual_seed(seed)
    trainer: GanTrainer | VaeTrainer | LmTrainer | ClassifierTrainer
    dataset: DigitData | TextCorpus | LabelledTexts
    if kind in ("gan", "vae"):
        digits = mnist5k() if data is None else data
        if not isinstance(digits, DigitData):
            raise ValueError(f"The {kind} net trains on digit images (DigitData), not {type(digits).__name__}.")
        if kind == "gan":
            gan_config = GanConfig.from_dict(config_values)
            epochs = epochs if epochs is not None or minutes is not None else gan_config.epochs
            trainer = GanTrainer(seed, gan_config, digits, cache_dir, epochs, device=device)
        else:
            vae_config = VaeConfig.from_dict(config_values)
            epochs = epochs if epochs is not None or minutes is not None else vae_config.epochs
            trainer = VaeTrainer(seed, vae_config, digits, cache_dir, epochs, device=device)
        dataset = digits
    elif kind == "classifier":
        texts = cold("train") if data is None else data
        if not isinstance(texts, LabelledTexts):
            raise ValueError(f"The classifier trains on labelled texts (LabelledTexts), not {type(texts).__name__}.")
        classifier_config = TextClassifierConfig.from_dict(config_values)
        epochs = epochs if epochs is not None or minutes is not None else classifier_config.epochs
        trainer = ClassifierTrainer(seed, classifier_config, texts, epochs, device=device)
        dataset = texts
    else:
        corpus = songci() if data is None else data
        if not isinstance(corpus, TextCorpus):
            raise ValueError(f"The lm net trains on text (TextCorpus), not {type(corpus).__name__}.")
        lm_config = LmConfig.from_dict(config_values)
        epochs = epochs if epochs is not None or minutes is not None else lm_config.epochs
        steps = epochs * lm_config.steps_per_epoch if epochs else None
        trainer = LmTrainer(seed, lm_config, corpus, steps, device=device)
        dataset = corpus

    clock.restart()  # the budget starts once the data and the measuring tools are ready
    metric_name = METRIC_NAMES[kind]
    facts: dict[str, Any] = {
        "dataset_fingerprints": [dataset.fingerprint],
        "dataset_names": [dataset.name],
        "torch_version": torch.__version__,
    }
    reports: list[EpochReport] = []
    best: tuple[float, int, bytes] | None = None
    epoch = 0
    while epochs is None or epoch < epochs:
        epoch += 1
        started = time.monotonic()
        losses, steps = trainer.train_epoch(epoch, clock)
        if steps == 0 and reports:
            break  # stopped right at an epoch boundary: nothing new to measure
        clock.pause()
        if clock.reason == "request" and best is not None:
            break  # asked to stop: the best epoch so far is kept, the cut one is not measured
        try:
            scores, value = trainer.evaluate(clock.stop_requested)
            png = trainer.sample_png() if isinstance(trainer, GanTrainer | VaeTrainer) else None
            text = trainer.sample_text() if isinstance(trainer, LmTrainer) else None
        except metrics.MeasurementStopped:
            if best is not None:
                break
            # Asked to stop before any epoch was measured: keep the weights as they are, unmeasured.
            scores, value, png, text = {}, math.inf, None, None
        if best is None or (math.isfinite(value) and (not math.isfinite(best[0]) or value < best[0])):
            state = trainer.export_state()
            extra = {"seed": seed, "epoch": epoch, "metric_name": metric_name, "metrics": scores, **facts}
            blob = checkpoint_dumps(kind=kind, config=trainer.config.to_dict(), state=state, extra=extra)
            best = (value, epoch, blob)
        report = EpochReport(
            epoch=epoch,
            losses=losses,
            metrics=scores,
            seconds=time.monotonic() - started,
            sample_png=png,
            sample_text=text,
            partial=clock.reason is not None,
        )
        reports.append(report)
        if on_epoch is not None:
            on_epoch(report)
        clock.resume()
        if clock.stop_now():
            break
    assert best is not None  # the first epoch always yields a checkpoint, measured or not
    chosen_config = trainer.config
    if isinstance(trainer, GanTrainer) and trainer.config.latent_scale_search and clock.reason != "request":
        clock.pause()  # measuring, not training
        if on_phase is not None:
            on_phase("choosing")
        try:
            best, chosen_config = with_calibrated_latent_scale(trainer, best, clock.should_stop)
        except SearchStopped:
            clock.reason = "request"
    hyperparameters: dict[str, Any] = {
        **{k: v for k, v in chosen_config.to_dict().items() if k != "vocab"},
        "seed": seed,
        "epochs": epochs,
        "minutes": minutes,
        "budget_clock": clock.kind,
        "epochs_run": len(reports),
        "threads": torch.get_num_threads(),
        "device": device.type,
    }
    if isinstance(trainer, GanTrainer):
        # Which classifier measured the digit-FID: it is trained per machine, so figures compare only under one.
        hyperparameters["fid_classifier_sha256"] = metrics.weights_sha256(trainer.classifier)
    if isinstance(trainer, ClassifierTrainer):
        hyperparameters["steps"] = trainer.step
    tunes: list[dict[str, Any]] = []
    if isinstance(trainer, LmTrainer):
        hyperparameters["vocab_size"] = trainer.config.vocab_size
        hyperparameters["steps"] = trainer.step
        tunes = [tune.as_dict() for tune in tune_table(trainer.train_text)]
    return TrainResult(
        kind=kind,
        checkpoint=best[2],
        checkpoint_sha256=checkpoint_sha256(best[2]),
        metric_name=metric_name,
        best_metric=best[0],
        best_epoch=best[1],
        epochs=reports,
        hyperparameters=hyperparameters,
        dataset_sources=[dataset.source],
        dataset_licences=[dataset.licence],
        seconds=clock.elapsed(),
        wall_seconds=time.monotonic() - clock.wall_started,
        stopped_by=clock.reason or "epochs",
        tunes=tunes,
        **facts,
    )

"""What every training loop shares: the reports of an epoch and of a run, the fixed seeds of measurement, the
clock that keeps a run to its budget."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, Literal, TypeVar

import numpy as np
import torch

from generation.ml.data import DigitData
from generation.ml.images import image_grid, png_encode
from generation.ml.nets.gan import GanConfig
from generation.ml.nets.vae import VaeConfig

Kind = Literal["gan", "vae", "lm", "classifier"]


METRIC_NAMES = {"gan": "fid", "vae": "validation_nats", "lm": "nats_per_char", "classifier": "validation_error"}


# Fixed seed of the images drawn to measure each epoch, so epochs are compared on the same noise.
EVAL_SEED = 1234


# Fixed seed of the VAE's validation digits, drawn from its training digits.
VALIDATION_SEED = 4321


@dataclass
class EpochReport:
    epoch: int
    losses: dict[str, float]
    metrics: dict[str, float]
    seconds: float
    sample_png: bytes | None
    sample_text: str | None = None
    # True when the epoch was cut short by the time budget or a stop request.
    partial: bool = False


@dataclass
class TrainResult:
    kind: str
    checkpoint: bytes
    checkpoint_sha256: str
    metric_name: str
    best_metric: float
    best_epoch: int
    epochs: list[EpochReport]
    hyperparameters: dict[str, Any]
    dataset_fingerprints: list[str]
    dataset_names: list[str]
    torch_version: str
    dataset_sources: list[str] = field(default_factory=list)
    dataset_licences: list[str] = field(default_factory=list)
    # Training seconds (the budget's measure: time spent measuring each epoch is not counted) and wall seconds.
    seconds: float = 0.0
    wall_seconds: float = 0.0
    stopped_by: str = "epochs"  # "epochs", "minutes" or "request"
    # Language model: the tunes of its training text, each with its most common form (generation.tunes).
    tunes: list[dict[str, Any]] = field(default_factory=list)


class Clock:
    """Time budget and stop requests, asked between batches; ``should_stop`` is called at most once a second.

    The budget counts training time only: the clock is paused while an epoch is measured and reported.
    On the "cpu" clock a second is one second of CPU time per torch thread, so a busy shared machine
    does not shrink the work a budget buys.
    """

    def __init__(self, minutes: float | None, should_stop: Callable[[], bool] | None, kind: str = "wall") -> None:
        if kind not in ("wall", "cpu"):
            raise ValueError(f"The budget clock must be 'wall' or 'cpu', got {kind!r}.")
        threads = torch.get_num_threads()
        self.measure: Callable[[], float] = (
            time.monotonic if kind == "wall" else (lambda: time.process_time() / threads)
        )
        self.kind = kind
        self.wall_started = time.monotonic()
        self.started = self.measure()
        self.budget = None if minutes is None else minutes * 60.0
        self.should_stop = should_stop
        self.last_asked = 0.0
        self.reason: str | None = None
        self.paused_at: float | None = None
        self.paused = 0.0

    def restart(self) -> None:
        self.wall_started = time.monotonic()
        self.started = self.measure()

    def elapsed(self) -> float:
        """Training seconds so far, less the time spent measuring (which the budget does not count)."""
        now = self.paused_at if self.paused_at is not None else self.measure()
        return now - self.started - self.paused

    def pause(self) -> None:
        self.paused_at = self.measure()

    def resume(self) -> None:
        if self.paused_at is not None:
            self.paused += self.measure() - self.paused_at
            self.paused_at = None

    def progress(self, step: int, total_steps: int | None) -> float:
        """How much of the budget is spent, from 0 to 1: of its steps (an epoch budget) or of its time."""
        progress = step / total_steps if total_steps else 0.0
        if self.budget:
            progress = max(progress, self.elapsed() / self.budget)
        return min(1.0, progress)

    def stop_requested(self) -> bool:
        """Whether ``should_stop`` asked to stop (not the budget running out); asked at most once a second."""
        return self.stop_now() and self.reason == "request"

    def stop_now(self) -> bool:
        if self.reason:
            return True
        now = time.monotonic()
        if self.budget is not None and self.elapsed() >= self.budget:
            self.reason = "minutes"
        elif self.should_stop is not None and now - self.last_asked >= 1.0:
            self.last_asked = now
            if self.should_stop():
                self.reason = "request"
        return self.reason is not None


DigitConfig = TypeVar("DigitConfig", GanConfig, VaeConfig)


def config_for_images(config: DigitConfig, data: DigitData) -> DigitConfig:
    """``config`` at the image size of ``data``: a digit net is built for the digits it trains on."""
    return config if config.image_size == data.image_size else config.replace(image_size=data.image_size)


class DigitTrainer(Generic[DigitConfig]):
    """The start every trainer of a digit net (the GAN, the VAE) shares, so that both train alike: the
    configuration at the digits' image size, the device the net trains on, and the CPU generator, seeded by
    ``seed``, its random draws come from (moved to the device). Then the net's own set-up, ``prepare``."""

    def __init__(
        self,
        seed: int,
        config: DigitConfig,
        data: DigitData,
        cache_dir: Path | None,
        epochs: int | None = None,
        *,
        device: torch.device | str = "cpu",
    ) -> None:
        self.config: DigitConfig = config_for_images(config, data)
        self.data = data
        self.device = torch.device(device)
        self.generator = torch.Generator().manual_seed(seed)
        self.prepare(cache_dir, epochs)

    def prepare(self, cache_dir: Path | None, epochs: int | None) -> None:
        """Build the net, its optimisers and its training data; ``epochs``, when given, fixes the run's length."""
        raise NotImplementedError


def png_bytes(images: list[np.ndarray], *, columns: int) -> bytes:
    size = images[0].shape[0]
    return png_encode(image_grid(images, columns=columns, scale=max(1, 56 // size)))


class SearchStopped(Exception):  # noqa: N818
    """The search for the GAN's noise scale was asked to stop; the best epoch is kept as it was."""

"""Training loops for the three nets, with per-epoch reports and the checkpoint of the best epoch.

``train`` is the single entry point; it runs in the caller's process and thread (a Celery worker or
``manage.py train``) and reports through callbacks, so it knows nothing of the database.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn

from generation.ml import metrics
from generation.ml.checkpoints import checkpoint_dumps, checkpoint_loads, checkpoint_sha256
from generation.ml.data import DigitData, TextCorpus, mnist5k, songci, text_split
from generation.ml.images import image_grid, png_encode
from generation.ml.nets.attention import CharTransformer, LmConfig, char_vocab
from generation.ml.nets.gan import ConditionalGan, GanConfig
from generation.ml.nets.vae import ConvVae, VaeConfig, binarize
from generation.ml.sampling import gan_sample_labels, lm_sample, vae_sample
from generation.tunes import tune_table

Kind = Literal["gan", "vae", "lm"]
METRIC_NAMES = {"gan": "fid", "vae": "validation_nats", "lm": "nats_per_char"}
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


class _Clock:
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


def _png(images: list[np.ndarray], *, columns: int) -> bytes:
    size = images[0].shape[0]
    return png_encode(image_grid(images, columns=columns, scale=max(1, 56 // size)))


class _GanTrainer:
    def __init__(
        self, seed: int, config: GanConfig, data: DigitData, cache_dir: Path | None, epochs: int | None
    ) -> None:
        if config.image_size != data.image_size:
            config = config.replace(image_size=data.image_size)
        self.config, self.data = config, data
        self.generator = torch.Generator().manual_seed(seed)
        self.net = ConditionalGan(config)
        self.opt_g = torch.optim.Adam(
            self.net.generator.parameters(), lr=config.lr_g, betas=(config.beta1, config.beta2)
        )
        self.opt_d = torch.optim.Adam(
            self.net.discriminator.parameters(), lr=config.lr_d, betas=(config.beta1, config.beta2)
        )
        self.x = data.train_x.to(torch.float32).div(127.5).sub(1.0).unsqueeze(1)
        self.y = data.train_y
        full, rest = divmod(len(self.x), config.batch_size)
        self.steps_per_epoch = full + (rest >= 2)  # a last batch of one is dropped: batch norm needs two
        self.total_steps = epochs * self.steps_per_epoch if epochs else None
        self.step = 0
        self.classifier = metrics.digit_classifier(data, cache_dir=cache_dir)
        # The best epoch is chosen by digit-FID against the training digits, the distribution the net learns;
        # the test digits stay unseen until the benchmark measures the chosen checkpoint.
        self.reference_features, _ = metrics.classifier_features(self.classifier, data.train_x)
        self.eval_labels = torch.arange(config.eval_samples) % config.classes
        # Exponential moving average of the generator's weights: what is measured, sampled and saved.
        self.average = copy.deepcopy(self.net) if config.ema else None
        self.average_steps = 0

    @property
    def sampler(self) -> ConditionalGan:
        return self.average if self.average is not None else self.net

    def export_state(self) -> dict[str, torch.Tensor]:
        if self.average is not None:
            self.average.discriminator.load_state_dict(self.net.discriminator.state_dict())
        return self.sampler.state_dict()

    def _update_average(self) -> None:
        if self.average is None:
            return
        with torch.no_grad():
            live, slow = self.net.generator, self.average.generator
            self.average_steps += 1
            decay = self.config.ema
            if self.config.ema_warmup:
                decay = min(decay, self.average_steps / (9.0 + self.average_steps))
            for mine, theirs in zip(slow.parameters(), live.parameters(), strict=True):
                mine.lerp_(theirs, 1.0 - decay)
            for slow_buffer, live_buffer in zip(slow.buffers(), live.buffers(), strict=True):
                slow_buffer.copy_(live_buffer)

    def _refresh_average_statistics(self) -> None:
        """Recompute the averaged generator's batch-norm statistics from its own activations.

        The running statistics copied from the live generator describe the live weights, not their average.
        """
        if self.average is None or not self.config.ema_bn_batches:
            return
        generator = self.average.generator
        norms = [m for m in generator.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
        momenta = [m.momentum for m in norms]
        for norm in norms:
            norm.reset_running_stats()
            norm.momentum = None  # a plain average over the batches below
        draw = torch.Generator().manual_seed(EVAL_SEED + 1)
        generator.train()
        with torch.no_grad():
            for _ in range(self.config.ema_bn_batches):
                z = torch.randn(64, self.config.latent_dim, generator=draw)
                generator(z, torch.randint(0, self.config.classes, (64,), generator=draw))
        for norm, momentum in zip(norms, momenta, strict=True):
            norm.momentum = momentum

    def _batches(self) -> list[torch.Tensor]:
        """One epoch's batches in a fresh order."""
        order = torch.randperm(len(self.x), generator=self.generator)
        return list(order.split(self.config.batch_size)[: self.steps_per_epoch])

    def _set_learning_rates(self, clock: _Clock) -> None:
        start = self.config.lr_decay_from
        if start >= 1.0:
            return
        progress = clock.progress(self.step, self.total_steps)
        scale = min(1.0, (1.0 - progress) / (1.0 - start))
        for optimizer, lr in ((self.opt_g, self.config.lr_g), (self.opt_d, self.config.lr_d)):
            for group in optimizer.param_groups:
                group["lr"] = lr * scale

    def _loss_d(self, d_real: torch.Tensor, d_fake: torch.Tensor) -> torch.Tensor:
        if self.config.loss == "hinge":
            return F.relu(1.0 - d_real).mean() + F.relu(1.0 + d_fake).mean()
        real_target = torch.full_like(d_real, 1.0 - self.config.label_smoothing)
        return F.binary_cross_entropy_with_logits(d_real, real_target) + F.binary_cross_entropy_with_logits(
            d_fake, torch.zeros_like(d_fake)
        )

    def _loss_g(self, d_out: torch.Tensor) -> torch.Tensor:
        if self.config.loss == "hinge":
            return -d_out.mean()
        return F.binary_cross_entropy_with_logits(d_out, torch.ones_like(d_out))

    def _r1_penalty(self, d_real: torch.Tensor, seen_real: torch.Tensor) -> torch.Tensor:
        """r1_gamma / 2 times the mean squared norm of the gradient of D's output at the real images, times r1_every."""
        (gradient,) = torch.autograd.grad(d_real.sum(), seen_real, create_graph=True)
        weight = self.config.r1_gamma / 2 * self.config.r1_every
        return gradient.square().sum(dim=(1, 2, 3)).mean() * weight

    def _augment(self, images: torch.Tensor) -> torch.Tensor:
        """What the discriminator sees: each image shifted on its own by up to ``augment_shift`` pixels.

        Differentiable (an indexed crop of the padded batch), so the generator learns through it too.
        """
        shift = self.config.augment_shift
        if not shift:
            return images
        count, _channels, height, width = images.shape
        padded = F.pad(images, (shift, shift, shift, shift), value=-1.0)  # -1 is the background of [-1, 1]
        dy, dx = torch.randint(0, 2 * shift + 1, (2, count, 1), generator=self.generator)
        rows = (dy + torch.arange(height)).unsqueeze(2)
        cols = (dx + torch.arange(width)).unsqueeze(1)
        return padded[torch.arange(count).view(count, 1, 1), 0, rows, cols].unsqueeze(1)

    def train_epoch(self, epoch: int, clock: _Clock) -> tuple[dict[str, float], int]:
        self.net.train()
        sums = {"d": 0.0, "g": 0.0}
        steps = 0
        for batch in self._batches():
            if clock.stop_now():
                break
            self._set_learning_rates(clock)
            real, labels = self.x[batch], self.y[batch]
            z = torch.randn(len(batch), self.config.latent_dim, generator=self.generator)
            fake = self.net.generator(z, labels)
            seen_real = self._augment(real)
            penalise = self.config.r1_gamma > 0 and self.step % self.config.r1_every == 0
            if penalise:
                seen_real = seen_real.detach().requires_grad_(True)
            d_real = self.net.discriminator(seen_real, labels)
            d_fake = self.net.discriminator(self._augment(fake.detach()), labels)
            loss_d = self._loss_d(d_real, d_fake)
            if penalise:
                loss_d = loss_d + self._r1_penalty(d_real, seen_real)
            self.opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            self.opt_d.step()
            d_out = self.net.discriminator(self._augment(fake), labels)
            loss_g = self._loss_g(d_out)
            self.opt_g.zero_grad(set_to_none=True)
            loss_g.backward()
            self.opt_g.step()
            self._update_average()
            self.step += 1
            sums["d"] += loss_d.item()
            sums["g"] += loss_g.item()
            steps += 1
        return {k: v / max(steps, 1) for k, v in sums.items()}, steps

    def evaluate(self, should_stop: Callable[[], bool] | None = None) -> tuple[dict[str, float], float]:
        self._refresh_average_statistics()
        images = gan_sample_labels(self.sampler, self.eval_labels, seed=EVAL_SEED)
        features, predicted = metrics.classifier_features(self.classifier, images, should_stop=should_stop)
        fid = metrics.fid(features, self.reference_features)
        accuracy = float((predicted == self.eval_labels.numpy()).mean())
        return {"fid": fid, "conditional_accuracy": accuracy}, fid

    def latent_scale_candidates(self) -> list[float]:
        """latent_scale ± latent_scale_search in steps of latent_scale_step (latent_scale alone if no search)."""
        base, search, step = self.config.latent_scale, self.config.latent_scale_search, self.config.latent_scale_step
        reach = math.floor(search / step + 1e-9) if search else 0
        return [round(base + k * step, 6) for k in range(-reach, reach + 1) if base + k * step > 0]

    def calibrate_latent_scale(
        self, net: ConditionalGan, should_stop: Callable[[], bool] | None = None
    ) -> tuple[float, dict[str, float]]:
        """The candidate latent scale with the lowest mean digit-FID against the training digits, and every mean.

        Each candidate is measured on the same ``latent_scale_draws`` draws of noise, so they differ only by scale.
        Raises SearchStopped when ``should_stop`` says so between draws.
        """
        means: dict[str, float] = {}
        net.eval()
        for scale in self.latent_scale_candidates():
            scores = []
            for draw in range(self.config.latent_scale_draws):
                if should_stop is not None and should_stop():
                    raise SearchStopped
                noise = torch.Generator().manual_seed(EVAL_SEED + 100 + draw)
                with torch.inference_mode():
                    z = torch.randn(len(self.eval_labels), self.config.latent_dim, generator=noise)
                    images = net.generator(z * scale, self.eval_labels)
                features, _ = metrics.classifier_features(self.classifier, images)
                scores.append(metrics.fid(features, self.reference_features))
            means[f"{scale:g}"] = float(np.mean(scores))
        finite = {k: v for k, v in means.items() if math.isfinite(v)}
        chosen = min(finite, key=finite.__getitem__) if finite else f"{self.config.latent_scale:g}"
        return float(chosen), means

    def sample_png(self) -> bytes:
        labels = torch.arange(100) // 10
        images = gan_sample_labels(self.sampler, labels, seed=EVAL_SEED)
        return _png([i.numpy() for i in ((images.squeeze(1) + 1) * 127.5).round().clamp(0, 255).byte()], columns=10)


class SearchStopped(Exception):  # noqa: N818
    """The search for the GAN's noise scale was asked to stop; the best epoch is kept as it was."""


class _VaeTrainer:
    def __init__(
        self, seed: int, config: VaeConfig, data: DigitData, cache_dir: Path | None, epochs: int | None = None
    ) -> None:
        if config.image_size != data.image_size:
            config = config.replace(image_size=data.image_size)
        self.config, self.data = config, data
        self.generator = torch.Generator().manual_seed(seed)
        self.net = ConvVae(config)
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=config.lr)
        # A tenth of the training digits, always the same ones, is held out to choose the best epoch, so
        # the test digits the benchmark reports on play no part in the choice.
        order = torch.randperm(len(data.train_x), generator=torch.Generator().manual_seed(VALIDATION_SEED))
        held_out = max(1, len(order) // 10)
        self.validation_x = data.train_x[order[:held_out]]
        self.x = binarize(data.train_x[order[held_out:]])
        self.steps_per_epoch = math.ceil(len(self.x) / config.batch_size)
        self.total_steps = epochs * self.steps_per_epoch if epochs else None
        self.step = 0

    def _augment(self, images: torch.Tensor) -> torch.Tensor:
        """Each binary image shifted on its own by up to ``augment_shift`` pixels each way (empty pixels come in)."""
        shift = self.config.augment_shift
        if not shift:
            return images
        count, _channels, height, width = images.shape
        padded = F.pad(images, (shift, shift, shift, shift))
        dy, dx = torch.randint(0, 2 * shift + 1, (2, count, 1), generator=self.generator)
        rows = (dy + torch.arange(height)).unsqueeze(2)
        cols = (dx + torch.arange(width)).unsqueeze(1)
        return padded[torch.arange(count).view(count, 1, 1), 0, rows, cols].unsqueeze(1)

    def _set_learning_rate(self, clock: _Clock) -> None:
        final = self.config.lr_final_fraction
        if final >= 1.0:
            return
        progress = clock.progress(self.step, self.total_steps)
        for group in self.optimizer.param_groups:
            group["lr"] = self.config.lr * (1.0 - (1.0 - final) * progress)

    def train_epoch(self, epoch: int, clock: _Clock) -> tuple[dict[str, float], int]:
        self.net.train()
        sums = {"neg_elbo": 0.0, "reconstruction": 0.0, "kl": 0.0}
        seen = 0
        order = torch.randperm(len(self.x), generator=self.generator)
        for batch in order.split(self.config.batch_size):
            if clock.stop_now():
                break
            self._set_learning_rate(clock)
            loss, reconstruction, kl = self.net.negative_elbo(self._augment(self.x[batch]), generator=self.generator)
            self.optimizer.zero_grad(set_to_none=True)
            loss.mean().backward()
            self.optimizer.step()
            self.step += 1
            sums["neg_elbo"] += loss.sum().item()
            sums["reconstruction"] += reconstruction.sum().item()
            sums["kl"] += kl.sum().item()
            seen += len(batch)
        return {k: v / max(seen, 1) for k, v in sums.items()}, seen

    def export_state(self) -> dict[str, torch.Tensor]:
        return self.net.state_dict()

    def evaluate(self, should_stop: Callable[[], bool] | None = None) -> tuple[dict[str, float], float]:
        nats = metrics.vae_test_nats(self.net, self.validation_x, seed=EVAL_SEED)
        return {"validation_nats": nats}, nats

    def sample_png(self) -> bytes:
        return _png(vae_sample(self.net, count=64, seed=EVAL_SEED), columns=8)


class _LmTrainer:
    def __init__(self, seed: int, config: LmConfig, corpus: TextCorpus, clock_budget: int | None) -> None:
        self.train_text, self.test_text = text_split(corpus)
        if not config.vocab:
            config = config.replace(vocab=char_vocab(self.train_text, min_count=config.min_count))
        self.config = config
        self.generator = torch.Generator().manual_seed(seed)
        self.net = CharTransformer(config)
        self.ids = torch.tensor(self.net.encode(self.train_text), dtype=torch.long)
        if len(self.ids) < config.block_size + 2:
            raise ValueError(
                f"The training text has {len(self.ids)} characters; the net needs more than {config.block_size + 1}."
            )
        self.windows = self.ids.unfold(0, config.block_size + 1, 1)
        decay = [p for p in self.net.parameters() if p.dim() >= 2]
        no_decay = [p for p in self.net.parameters() if p.dim() < 2]
        self.optimizer = torch.optim.AdamW(
            [{"params": decay, "weight_decay": config.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
            lr=config.lr,
            betas=(0.9, 0.99),
        )
        self.total_steps = clock_budget
        self.step = 0
        test_scored = self.test_text[: config.eval_chars + 1] if config.eval_chars else self.test_text
        self.baselines = metrics.ngram_baselines(self.train_text, test_scored, config.vocab)

    def learning_rate(self, clock: _Clock) -> float:
        config = self.config
        if self.step < config.warmup_steps:
            return config.lr * (self.step + 1) / config.warmup_steps
        progress = clock.progress(self.step, self.total_steps)
        low = config.lr * config.min_lr_fraction
        return low + 0.5 * (config.lr - low) * (1.0 + math.cos(math.pi * progress))

    def train_epoch(self, epoch: int, clock: _Clock) -> tuple[dict[str, float], int]:
        self.net.train()
        total, steps = 0.0, 0
        for _ in range(self.config.steps_per_epoch):
            if clock.stop_now():
                break
            starts = torch.randint(0, len(self.windows), (self.config.batch_size,), generator=self.generator)
            batch = self.windows[starts]
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.config.autocast_bf16):
                logits = self.net(batch[:, :-1])
            loss = F.cross_entropy(logits.float().flatten(0, 1), batch[:, 1:].flatten())
            for group in self.optimizer.param_groups:
                group["lr"] = self.learning_rate(clock)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(self.net.parameters(), self.config.grad_clip)
            self.optimizer.step()
            self.step += 1
            total += loss.item()
            steps += 1
        return {"train_nats_per_char": total / max(steps, 1)}, steps

    def export_state(self) -> dict[str, torch.Tensor]:
        return self.net.state_dict()

    def evaluate(self, should_stop: Callable[[], bool] | None = None) -> tuple[dict[str, float], float]:
        nats = metrics.lm_nats_per_char(
            self.net, self.test_text, max_chars=self.config.eval_chars, should_stop=should_stop
        )
        return {
            "nats_per_char": nats,
            "bigram_nats_per_char": self.baselines.bigram,
            "unigram_nats_per_char": self.baselines.unigram,
        }, nats

    def sample_text(self) -> str:
        return lm_sample(self.net, prompt="", max_chars=80, temperature=0.8, top_k=None, seed=EVAL_SEED)


def _with_calibrated_latent_scale(
    trainer: _GanTrainer, best: tuple[float, int, bytes], should_stop: Callable[[], bool] | None = None
) -> tuple[tuple[float, int, bytes], GanConfig]:
    """The best checkpoint rewritten with the latent scale that fits the training digits best, and its config.

    The epoch's own metric stays the run's best metric (every run's is measured the same way); the checkpoint's
    extra facts gain the scale chosen and the mean digit-FID of every candidate.
    """
    value, epoch, blob = best
    loaded = checkpoint_loads(blob, expected_sha256=checkpoint_sha256(blob))
    net = loaded.net
    assert isinstance(net, ConditionalGan)
    scale, means = trainer.calibrate_latent_scale(net, should_stop)
    config = net.config.replace(latent_scale=scale)
    extra = {**loaded.extra, "latent_scale": scale, "latent_scale_fids": means}
    blob = checkpoint_dumps(kind="gan", config=config.to_dict(), state=net.state_dict(), extra=extra)
    return (value, epoch, blob), config


def train(
    kind: Kind,
    *,
    seed: int,
    epochs: int | None = None,
    minutes: float | None = None,
    config: dict[str, Any] | None = None,
    data: DigitData | TextCorpus | None = None,
    on_epoch: Callable[[EpochReport], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    threads: int | None = None,
    cache_dir: Path | None = None,
    budget_clock: Literal["wall", "cpu"] = "wall",
    on_phase: Callable[[str], None] | None = None,
) -> TrainResult:
    """Train a net; stop after ``epochs`` or ``minutes`` (whichever comes first; the config's epochs if neither).

    The checkpoint returned is the epoch with the best quality metric (lowest), not simply the last.
    The GAN's epochs are compared by digit-FID against its training digits and the VAE's on a tenth of
    its training digits held out from training, so the test digits are left for the benchmark; the
    LM's on its held-out text (with its learning rate decaying to the end of the budget, the last
    epoch has been the best in every run measured).
    With an epoch budget the run is deterministic for a seed on CPU; a time budget is not, since the
    number of steps depends on the machine. ``threads`` sets torch's intra-op threads for the run
    (restored afterwards). ``cache_dir`` holds the digit classifier used for the GAN's metric.
    ``budget_clock="cpu"`` counts ``minutes`` in CPU time per thread instead of wall time.
    ``on_phase("choosing")`` is called when the GAN's training ends and the search for its noise scale starts;
    a run stopped by ``should_stop`` skips that search (or ends it early) and keeps its best epoch as it was.
    """
    if kind not in METRIC_NAMES:
        raise ValueError(f"Unknown net kind {kind!r}; expected gan, vae or lm.")
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
        clock = _Clock(minutes, should_stop, budget_clock)
        return _train(kind, seed, epochs, minutes, config or {}, data, on_epoch, clock, cache_dir, on_phase)
    finally:
        torch.set_num_threads(previous_threads)


def _train(
    kind: Kind,
    seed: int,
    epochs: int | None,
    minutes: float | None,
    config_values: dict[str, Any],
    data: DigitData | TextCorpus | None,
    on_epoch: Callable[[EpochReport], None] | None,
    clock: _Clock,
    cache_dir: Path | None,
    on_phase: Callable[[str], None] | None = None,
) -> TrainResult:
    torch.manual_seed(seed)
    trainer: _GanTrainer | _VaeTrainer | _LmTrainer
    if kind in ("gan", "vae"):
        digits = mnist5k() if data is None else data
        if not isinstance(digits, DigitData):
            raise ValueError(f"The {kind} net trains on digit images (DigitData), not {type(digits).__name__}.")
        if kind == "gan":
            gan_config = GanConfig.from_dict(config_values)
            epochs = epochs if epochs is not None or minutes is not None else gan_config.epochs
            trainer = _GanTrainer(seed, gan_config, digits, cache_dir, epochs)
        else:
            vae_config = VaeConfig.from_dict(config_values)
            epochs = epochs if epochs is not None or minutes is not None else vae_config.epochs
            trainer = _VaeTrainer(seed, vae_config, digits, cache_dir, epochs)
        dataset: DigitData | TextCorpus = digits
    else:
        corpus = songci() if data is None else data
        if not isinstance(corpus, TextCorpus):
            raise ValueError(f"The lm net trains on text (TextCorpus), not {type(corpus).__name__}.")
        lm_config = LmConfig.from_dict(config_values)
        epochs = epochs if epochs is not None or minutes is not None else lm_config.epochs
        trainer = _LmTrainer(seed, lm_config, corpus, epochs * lm_config.steps_per_epoch if epochs else None)
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
            png = None if isinstance(trainer, _LmTrainer) else trainer.sample_png()
            text = trainer.sample_text() if isinstance(trainer, _LmTrainer) else None
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
    if isinstance(trainer, _GanTrainer) and trainer.config.latent_scale_search and clock.reason != "request":
        clock.pause()  # measuring, not training
        if on_phase is not None:
            on_phase("choosing")
        try:
            best, chosen_config = _with_calibrated_latent_scale(trainer, best, clock.should_stop)
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
    }
    if isinstance(trainer, _GanTrainer):
        # Which classifier measured the digit-FID: it is trained per machine, so figures compare only under one.
        hyperparameters["fid_classifier_sha256"] = metrics.weights_sha256(trainer.classifier)
    tunes: list[dict[str, Any]] = []
    if isinstance(trainer, _LmTrainer):
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

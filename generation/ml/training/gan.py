"""Training the conditional GAN: alternating steps, the averaged generator, digit-FID each epoch, and the latent
scale chosen after training."""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn

from generation.ml import metrics
from generation.ml.checkpoints import checkpoint_dumps, checkpoint_loads, checkpoint_sha256
from generation.ml.device import module_device, seeded_randn
from generation.ml.nets.gan import ConditionalGan, GanConfig
from generation.ml.sampling import gan_sample_labels
from generation.ml.training.base import EVAL_SEED, Clock, DigitTrainer, SearchStopped, png_bytes


class GanTrainer(DigitTrainer[GanConfig]):
    """Trains on ``device``; its random draws come from a CPU generator and are moved there. The digit classifier
    that measures each epoch stays on the CPU."""

    def prepare(self, cache_dir: Path | None, epochs: int | None) -> None:
        config, data = self.config, self.data
        self.net = ConditionalGan(config).to(self.device)
        self.opt_g = torch.optim.Adam(
            self.net.generator.parameters(), lr=config.lr_g, betas=(config.beta1, config.beta2)
        )
        self.opt_d = torch.optim.Adam(
            self.net.discriminator.parameters(), lr=config.lr_d, betas=(config.beta1, config.beta2)
        )
        self.x = data.train_x.to(torch.float32).div(127.5).sub(1.0).unsqueeze(1).to(self.device)
        self.y = data.train_y.to(self.device)
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
                z = seeded_randn((64, self.config.latent_dim), generator=draw, device=self.device)
                generator(z, torch.randint(0, self.config.classes, (64,), generator=draw).to(self.device))
        for norm, momentum in zip(norms, momenta, strict=True):
            norm.momentum = momentum

    def _batches(self) -> list[torch.Tensor]:
        """One epoch's batches in a fresh order."""
        order = torch.randperm(len(self.x), generator=self.generator).to(self.device)
        return list(order.split(self.config.batch_size)[: self.steps_per_epoch])

    def _set_learning_rates(self, clock: Clock) -> None:
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
        dy, dx = torch.randint(0, 2 * shift + 1, (2, count, 1), generator=self.generator).to(images.device)
        rows = (dy + torch.arange(height, device=images.device)).unsqueeze(2)
        cols = (dx + torch.arange(width, device=images.device)).unsqueeze(1)
        return padded[torch.arange(count, device=images.device).view(count, 1, 1), 0, rows, cols].unsqueeze(1)

    def train_epoch(self, epoch: int, clock: Clock) -> tuple[dict[str, float], int]:
        self.net.train()
        sums = {"d": 0.0, "g": 0.0}
        steps = 0
        for batch in self._batches():
            if clock.stop_now():
                break
            self._set_learning_rates(clock)
            real, labels = self.x[batch], self.y[batch]
            z = seeded_randn((len(batch), self.config.latent_dim), generator=self.generator, device=self.device)
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
        images = gan_sample_labels(self.sampler, self.eval_labels, seed=EVAL_SEED).cpu()
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
        device = module_device(net)
        net.eval()
        for scale in self.latent_scale_candidates():
            scores = []
            for draw in range(self.config.latent_scale_draws):
                if should_stop is not None and should_stop():
                    raise SearchStopped
                noise = torch.Generator().manual_seed(EVAL_SEED + 100 + draw)
                with torch.inference_mode():
                    z = seeded_randn((len(self.eval_labels), self.config.latent_dim), generator=noise, device=device)
                    images = net.generator(z * scale, self.eval_labels.to(device))
                features, _ = metrics.classifier_features(self.classifier, images)
                scores.append(metrics.fid(features, self.reference_features))
            means[f"{scale:g}"] = float(np.mean(scores))
        finite = {k: v for k, v in means.items() if math.isfinite(v)}
        chosen = min(finite, key=finite.__getitem__) if finite else f"{self.config.latent_scale:g}"
        return float(chosen), means

    def sample_png(self) -> bytes:
        labels = torch.arange(100) // 10
        images = gan_sample_labels(self.sampler, labels, seed=EVAL_SEED).cpu()
        return png_bytes(
            [i.numpy() for i in ((images.squeeze(1) + 1) * 127.5).round().clamp(0, 255).byte()], columns=10
        )


def with_calibrated_latent_scale(
    trainer: GanTrainer, best: tuple[float, int, bytes], should_stop: Callable[[], bool] | None = None
) -> tuple[tuple[float, int, bytes], GanConfig]:
    """The best checkpoint rewritten with the latent scale that fits the training digits best, and its config.

    The epoch's own metric stays the run's best metric (every run's is measured the same way); the checkpoint's
    extra facts gain the scale chosen and the mean digit-FID of every candidate.
    """
    value, epoch, blob = best
    loaded = checkpoint_loads(blob, expected_sha256=checkpoint_sha256(blob), device=trainer.device)
    net = loaded.net
    assert isinstance(net, ConditionalGan)
    scale, means = trainer.calibrate_latent_scale(net, should_stop)
    config = net.config.replace(latent_scale=scale)
    extra = {**loaded.extra, "latent_scale": scale, "latent_scale_fids": means}
    blob = checkpoint_dumps(kind="gan", config=config.to_dict(), state=net.state_dict(), extra=extra)
    return (value, epoch, blob), config

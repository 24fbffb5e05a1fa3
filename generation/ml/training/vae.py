"""Training the VAE: the −ELBO on held-out digits each epoch."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F  # noqa: N812

from generation.ml import metrics
from generation.ml.nets.vae import ConvVae, VaeConfig, binarize
from generation.ml.sampling import vae_sample
from generation.ml.training.base import EVAL_SEED, VALIDATION_SEED, Clock, DigitTrainer, png_bytes


class VaeTrainer(DigitTrainer[VaeConfig]):
    def prepare(self, cache_dir: Path | None, epochs: int | None) -> None:
        config, data = self.config, self.data
        self.net = ConvVae(config).to(self.device)
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=config.lr)
        # A tenth of the training digits, always the same ones, is held out to choose the best epoch, so
        # the test digits the benchmark reports on play no part in the choice.
        order = torch.randperm(len(data.train_x), generator=torch.Generator().manual_seed(VALIDATION_SEED))
        held_out = max(1, len(order) // 10)
        self.validation_x = data.train_x[order[:held_out]]
        self.x = binarize(data.train_x[order[held_out:]]).to(self.device)
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
        dy, dx = torch.randint(0, 2 * shift + 1, (2, count, 1), generator=self.generator).to(images.device)
        rows = (dy + torch.arange(height, device=images.device)).unsqueeze(2)
        cols = (dx + torch.arange(width, device=images.device)).unsqueeze(1)
        return padded[torch.arange(count, device=images.device).view(count, 1, 1), 0, rows, cols].unsqueeze(1)

    def _set_learning_rate(self, clock: Clock) -> None:
        final = self.config.lr_final_fraction
        if final >= 1.0:
            return
        progress = clock.progress(self.step, self.total_steps)
        for group in self.optimizer.param_groups:
            group["lr"] = self.config.lr * (1.0 - (1.0 - final) * progress)

    def train_epoch(self, epoch: int, clock: Clock) -> tuple[dict[str, float], int]:
        self.net.train()
        sums = {"neg_elbo": 0.0, "reconstruction": 0.0, "kl": 0.0}
        seen = 0
        order = torch.randperm(len(self.x), generator=self.generator).to(self.device)
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
        return png_bytes(vae_sample(self.net, count=64, seed=EVAL_SEED), columns=8)

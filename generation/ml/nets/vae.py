"""Convolutional VAE over binarized digits with a Bernoulli decoder."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn

from generation.ml.nets.config import ConfigMixin


@dataclass(frozen=True)
class VaeConfig(ConfigMixin):
    image_size: int = 28
    latent_dim: int = 16
    width: int = 32
    hidden: int = 256
    batch_size: int = 64
    lr: float = 1e-3
    # Test −ELBO is best near epoch 30 on MNIST 5k (about 30 s on 2 cores); later epochs overfit.
    epochs: int = 40

    def __post_init__(self) -> None:
        if self.image_size % 4 or self.image_size < 8:
            raise ValueError(f"VAE image_size must be a multiple of 4 and at least 8, got {self.image_size}.")

    @classmethod
    def tiny(cls) -> VaeConfig:
        return cls(image_size=8, latent_dim=4, width=8, hidden=32, batch_size=32, epochs=2)


class ConvVae(nn.Module):
    kind = "vae"

    def __init__(self, config: VaeConfig) -> None:
        super().__init__()
        self.config = config
        width, base = config.width, config.image_size // 4
        self.encoder = nn.Sequential(
            nn.Conv2d(1, width, 4, stride=2, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(width, 2 * width, 4, stride=2, padding=1),
            nn.ReLU(inplace=True),
            nn.Flatten(),
            nn.Linear(2 * width * base * base, config.hidden),
            nn.ReLU(inplace=True),
            nn.Linear(config.hidden, 2 * config.latent_dim),
        )
        self.decoder_in = nn.Sequential(
            nn.Linear(config.latent_dim, config.hidden),
            nn.ReLU(inplace=True),
            nn.Linear(config.hidden, 2 * width * base * base),
            nn.ReLU(inplace=True),
        )
        self.decoder = nn.Sequential(
            nn.ConvTranspose2d(2 * width, width, 4, stride=2, padding=1),
            nn.ReLU(inplace=True),
            nn.ConvTranspose2d(width, 1, 4, stride=2, padding=1),
        )

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and log-variance of q(z|x) for binary images [N, 1, H, W] in {0, 1}."""
        mu, logvar = self.encoder(x).chunk(2, dim=1)
        return mu, logvar.clamp(-12.0, 8.0)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Bernoulli logits [N, 1, H, W]."""
        base = self.config.image_size // 4
        h = self.decoder_in(z).view(z.shape[0], 2 * self.config.width, base, base)
        return self.decoder(h)

    def negative_elbo(self, x: torch.Tensor, *, generator: torch.Generator | None = None) -> tuple[torch.Tensor, ...]:
        """Per-image −ELBO in nats, reconstruction term and KL term (each shape [N]); one z sample per image."""
        mu, logvar = self.encode(x)
        eps = torch.randn(mu.shape, generator=generator, dtype=mu.dtype)
        z = mu + eps * torch.exp(0.5 * logvar)
        logits = self.decode(z)
        reconstruction = F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1)
        kl = 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).sum(1)
        return reconstruction + kl, reconstruction, kl


def binarize(images: torch.Tensor) -> torch.Tensor:
    """uint8 images [N, H, W] → float {0, 1} [N, 1, H, W], thresholded at half intensity (deterministic)."""
    return (images >= 128).to(torch.float32).unsqueeze(1)

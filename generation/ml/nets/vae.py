"""Convolutional VAE over binarized digits with a Bernoulli decoder."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn

from generation.ml.nets.config import ConfigMixin, augment_shift_check, image_size_check
from generation.ml.nets.layers import conv_stack, dropout


@dataclass(frozen=True)
class VaeConfig(ConfigMixin):
    image_size: int = 28
    latent_dim: int = 16
    width: int = 32
    hidden: int = 256
    batch_size: int = 64
    lr: float = 1e-3
    # Passes over the training digits; the best epoch by validation −ELBO is kept.
    epochs: int = 100
    # Extra 3x3 convolutions of the decoder at each of its two upper resolutions (14x14 and 28x28 for 28x28).
    decoder_convs: int = 0
    # Training digits shifted by up to this many pixels each way, each on its own (0: off); the test is not.
    augment_shift: int = 1
    # The learning rate falls linearly to lr_final_fraction of lr over the epochs (1.0: constant).
    lr_final_fraction: float = 1.0
    # Dropout on the hidden layers of the encoder and the decoder while training.
    dropout: float = 0.0

    def __post_init__(self) -> None:
        image_size_check("VAE", self.image_size)
        if self.decoder_convs < 0:
            raise ValueError(f"VAE decoder_convs must be 0 or more, got {self.decoder_convs!r}.")
        augment_shift_check("VAE", self.augment_shift, self.image_size)
        if not 0.0 < self.lr_final_fraction <= 1.0:
            raise ValueError(f"VAE lr_final_fraction must be above 0 and at most 1, got {self.lr_final_fraction!r}.")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"VAE dropout must be from 0 to below 1, got {self.dropout!r}.")

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
            *dropout(config.dropout),
            nn.Linear(config.hidden, 2 * config.latent_dim),
        )
        self.decoder_in = nn.Sequential(
            nn.Linear(config.latent_dim, config.hidden),
            nn.ReLU(inplace=True),
            *dropout(config.dropout),
            nn.Linear(config.hidden, 2 * width * base * base),
            nn.ReLU(inplace=True),
        )
        top = max(8, width // 2)
        self.decoder = nn.Sequential(
            nn.ConvTranspose2d(2 * width, width, 4, stride=2, padding=1),
            nn.ReLU(inplace=True),
            *conv_stack(width, config.decoder_convs),
            *(
                (nn.ConvTranspose2d(width, top, 4, stride=2, padding=1), nn.ReLU(inplace=True))
                if config.decoder_convs
                else ()
            ),
            *conv_stack(top, config.decoder_convs - 1),
            nn.Conv2d(top, 1, 3, padding=1)
            if config.decoder_convs
            else nn.ConvTranspose2d(width, 1, 4, stride=2, padding=1),
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
        # Drawn on the CPU, then moved: one generator gives the same draws whichever device the net is on.
        eps = torch.randn(mu.shape, generator=generator, dtype=mu.dtype).to(mu.device)
        z = mu + eps * torch.exp(0.5 * logvar)
        logits = self.decode(z)
        reconstruction = F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1)
        kl = 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).sum(1)
        return reconstruction + kl, reconstruction, kl


def binarize(images: torch.Tensor) -> torch.Tensor:
    """uint8 images [N, H, W] → float {0, 1} [N, 1, H, W], thresholded at half intensity (deterministic)."""
    return (images >= 128).to(torch.float32).unsqueeze(1)

"""Conditional DCGAN: a generator that draws the digit it is asked for, and a projection discriminator."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from generation.ml.nets.config import ConfigMixin


@dataclass(frozen=True)
class GanConfig(ConfigMixin):
    image_size: int = 28
    classes: int = 10
    latent_dim: int = 64
    label_dim: int = 32
    g_width: int = 64
    d_width: int = 64
    batch_size: int = 64
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    # Decay of the moving average of the generator's weights used for sampling (0: use the live weights).
    ema: float = 0.995
    # Images generated per epoch to measure the Fréchet distance.
    eval_samples: int = 4000
    # About 4 minutes on 2 cores; digit-FID keeps falling slowly to about epoch 60.
    epochs: int = 60

    def __post_init__(self) -> None:
        if self.image_size % 4 or self.image_size < 8:
            raise ValueError(f"GAN image_size must be a multiple of 4 and at least 8, got {self.image_size}.")

    @classmethod
    def tiny(cls) -> GanConfig:
        return cls(
            image_size=8, latent_dim=16, label_dim=8, g_width=16, d_width=16, batch_size=32, eval_samples=200, epochs=2
        )


class Generator(nn.Module):
    def __init__(self, config: GanConfig) -> None:
        super().__init__()
        self.config = config
        width, base = config.g_width, config.image_size // 4
        self.label = nn.Embedding(config.classes, config.label_dim)
        self.project = nn.Sequential(
            nn.Linear(config.latent_dim + config.label_dim, 2 * width * base * base, bias=False),
            nn.BatchNorm1d(2 * width * base * base),
            nn.ReLU(inplace=True),
        )
        self.body = nn.Sequential(
            nn.ConvTranspose2d(2 * width, width, 4, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(inplace=True),
            nn.ConvTranspose2d(width, 1, 4, stride=2, padding=1),
            nn.Tanh(),
        )

    def forward(self, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Images in [-1, 1], shape [N, 1, H, W]."""
        base = self.config.image_size // 4
        h = self.project(torch.cat([z, self.label(labels)], dim=1))
        return self.body(h.view(z.shape[0], 2 * self.config.g_width, base, base))


class Discriminator(nn.Module):
    def __init__(self, config: GanConfig) -> None:
        super().__init__()
        width, base = config.d_width, config.image_size // 4
        self.body = nn.Sequential(
            nn.Conv2d(1, width, 4, stride=2, padding=1),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(width, 2 * width, 4, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(2 * width),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Flatten(),
            nn.Linear(2 * width * base * base, 4 * width),
            nn.LeakyReLU(0.2, inplace=True),
        )
        self.out = nn.Linear(4 * width, 1)
        self.label = nn.Embedding(config.classes, 4 * width)

    def forward(self, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """One logit per image: real and of the given class (projection discriminator)."""
        h = self.body(images)
        return self.out(h).squeeze(1) + (self.label(labels) * h).sum(dim=1)


class ConditionalGan(nn.Module):
    """Generator and discriminator together, so one state dict holds the whole training state of the net."""

    kind = "gan"

    def __init__(self, config: GanConfig) -> None:
        super().__init__()
        self.config = config
        self.generator = Generator(config)
        self.discriminator = Discriminator(config)
        self.apply(_dcgan_init)

    def generate(self, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return self.generator(z, labels)


def _dcgan_init(module: nn.Module) -> None:
    if isinstance(module, nn.Conv2d | nn.ConvTranspose2d | nn.Linear):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.BatchNorm1d | nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)
    elif isinstance(module, nn.Embedding):
        nn.init.normal_(module.weight, 0.0, 0.02)

"""Conditional DCGAN: a generator that draws the digit it is asked for, and a projection discriminator."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Self

import torch
from torch import nn

from generation.ml.nets.config import ConfigMixin, augment_shift_check, image_size_check
from generation.ml.nets.layers import conv_stack, dropout

# The settings of the first GanConfig (every checkpoint's config holds them all), and the value each later
# setting that changes the weights' shapes had before it existed.
_ORIGINAL_SETTINGS = frozenset(
    ["image_size", "classes", "latent_dim", "label_dim", "g_width", "d_width", "batch_size"]
    + ["lr_g", "lr_d", "beta1", "beta2", "eval_samples", "epochs"]
)
_VALUES_BEFORE_THEY_WERE_SETTINGS: dict[str, Any] = {
    "g_convs": 0,
    "spectral_norm": False,
    "d_batch_std": 0,
    "g_class_norm": False,
}


@dataclass(frozen=True)
class GanConfig(ConfigMixin):
    image_size: int = 28
    classes: int = 10
    latent_dim: int = 64
    label_dim: int = 32
    # Channels of the generator's convolutions (at the lowest resolution; halved at each step up).
    g_width: int = 64
    d_width: int = 64
    # Training images per step.
    batch_size: int = 64
    lr_g: float = 2e-4
    # Learning rate of the discriminator.
    lr_d: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    # Decay of the moving average of the generator's weights used for sampling (0: use the live weights).
    ema: float = 0.995
    # Ramp the decay up as (1 + step) / (10 + step) until it reaches ``ema``, so the average soon forgets the start.
    ema_warmup: bool = False
    # Images generated per epoch to measure the Fréchet distance.
    eval_samples: int = 4000
    # Passes over the training digits.
    epochs: int = 120
    # Adversarial loss: "bce" (non-saturating) or "hinge".
    loss: str = "bce"
    # One-sided label smoothing: the target of real images under the "bce" loss is 1 - label_smoothing.
    label_smoothing: float = 0.0
    # Extra 3x3 convolutions of the generator at each of its two inner resolutions (7x7 and 14x14 for 28x28). Configs
    # written before the setting existed read as 0 (see from_dict).
    g_convs: int = 1
    # Spectral normalisation of the discriminator's layers (then without batch norm). Configs written before it
    # read as False.
    spectral_norm: bool = True
    # Dropout before the discriminator's last hidden layer.
    d_dropout: float = 0.0
    # Batches of 64 drawn to recompute the batch-norm statistics of the averaged generator before each measurement (0:
    # it uses the live generator's running statistics, which describe the live weights, not their average).
    ema_bn_batches: int = 0
    # Both learning rates fall linearly to zero over the budget from this fraction of it on (1.0: constant).
    lr_decay_from: float = 0.5
    # Differentiable augmentation: every image the discriminator sees, real or generated, in both players' steps, is
    # shifted by up to this many pixels each way (each image on its own, background filled in), so the discriminator
    # cannot learn the 4,000 training digits by heart (0: off).
    augment_shift: int = 0
    # Minibatch standard deviation: the discriminator also sees how much the images of each group of this many (of one
    # batch, real or generated) differ, so a generator drawing too little variety is told apart (0: off). Configs
    # written before it read as 0.
    d_batch_std: int = 4
    # Class-conditional batch norm in the generator's convolutional layers: each digit class has its own gain and bias
    # after every normalisation there, so the class steers every layer, not only the input. Configs written before it
    # read as False.
    g_class_norm: bool = False
    # R1 penalty: the discriminator pays r1_gamma / 2 times the squared gradient of its output with respect to the
    # real images it sees, so it stays smooth around the training digits (0: off). Computed every r1_every steps and
    # weighted by r1_every ("lazy" regularisation), which costs about a quarter of doing it every step.
    r1_gamma: float = 0.0
    r1_every: int = 4
    # The noise z is multiplied by this when sampling (training always draws z from the standard normal).
    latent_scale: float = 1.0
    # After training, the best epoch's latent_scale is chosen from latent_scale ± search in steps of
    # latent_scale_step, by the mean digit-FID against the training digits over latent_scale_draws draws of
    # eval_samples images, and written into its checkpoint (search 0: left as it is). The averaged generator draws too
    # little variety at z's own scale.
    latent_scale_search: float = 0.1
    latent_scale_step: float = 0.05
    latent_scale_draws: int = 3

    def __post_init__(self) -> None:
        image_size_check("GAN", self.image_size)
        if self.loss not in ("bce", "hinge"):
            raise ValueError(f"GAN loss must be 'bce' or 'hinge', got {self.loss!r}.")
        if not 0.0 <= self.label_smoothing < 0.5:
            raise ValueError(f"GAN label_smoothing must be from 0 to below 0.5, got {self.label_smoothing!r}.")
        if self.g_convs < 0:
            raise ValueError(f"GAN g_convs must be 0 or more, got {self.g_convs!r}.")
        if not 0.0 <= self.d_dropout < 1.0:
            raise ValueError(f"GAN d_dropout must be from 0 to below 1, got {self.d_dropout!r}.")
        if self.ema_bn_batches < 0:
            raise ValueError(f"GAN ema_bn_batches must be 0 or more, got {self.ema_bn_batches!r}.")
        if not 0.0 <= self.lr_decay_from <= 1.0:
            raise ValueError(f"GAN lr_decay_from must be from 0 to 1, got {self.lr_decay_from!r}.")
        if self.d_batch_std < 0:
            raise ValueError(f"GAN d_batch_std must be 0 or more, got {self.d_batch_std!r}.")
        if self.r1_gamma < 0:
            raise ValueError(f"GAN r1_gamma must be 0 or more, got {self.r1_gamma!r}.")
        if self.r1_every < 1:
            raise ValueError(f"GAN r1_every must be 1 or more, got {self.r1_every!r}.")
        if not self.latent_scale > 0:
            raise ValueError(f"GAN latent_scale must be above 0, got {self.latent_scale!r}.")
        if not 0 <= self.latent_scale_search < 1:
            raise ValueError(f"GAN latent_scale_search must be from 0 to below 1, got {self.latent_scale_search!r}.")
        if self.latent_scale_search and not 0 < self.latent_scale_step <= self.latent_scale_search:
            raise ValueError(
                "GAN latent_scale_step must be above 0 and at most latent_scale_search, "
                f"got {self.latent_scale_step!r}."
            )
        if self.latent_scale_draws < 1:
            raise ValueError(f"GAN latent_scale_draws must be 1 or more, got {self.latent_scale_draws!r}.")
        augment_shift_check("GAN", self.augment_shift, self.image_size)

    @classmethod
    def from_dict(cls, values: dict[str, Any] | None = None, **overrides: Any) -> Self:
        """As ``ConfigMixin.from_dict``; a whole config written before a setting existed reads it as its old value.

        Checkpoints store the whole config, so one holding every original setting but not a newer one was written
        before that setting existed, and its weights fit the net of the setting's old value, not of today's default.
        """
        merged = dict(values or {})
        if _ORIGINAL_SETTINGS <= merged.keys():
            merged = {**_VALUES_BEFORE_THEY_WERE_SETTINGS, **merged}
        return super().from_dict(merged, **overrides)

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
        classes = config.classes if config.g_class_norm else 0
        self.body = nn.Sequential(
            *_g_convs(2 * width, config.g_convs, classes),
            nn.ConvTranspose2d(2 * width, width, 4, stride=2, padding=1, bias=False),
            _batch_norm(width, classes),
            nn.ReLU(inplace=True),
            *_g_convs(width, config.g_convs, classes),
            nn.ConvTranspose2d(width, 1, 4, stride=2, padding=1),
            nn.Tanh(),
        )

    def forward(self, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Images in [-1, 1], shape [N, 1, H, W]."""
        base = self.config.image_size // 4
        h = self.project(torch.cat([z, self.label(labels)], dim=1))
        h = h.view(z.shape[0], 2 * self.config.g_width, base, base)
        for layer in self.body:
            h = layer(h, labels) if isinstance(layer, ClassBatchNorm2d) else layer(h)
        return h


class ClassBatchNorm2d(nn.Module):
    """Batch norm whose gain and bias are looked up by each image's class."""

    def __init__(self, channels: int, classes: int) -> None:
        super().__init__()
        self.norm = nn.BatchNorm2d(channels, affine=False)
        self.gain = nn.Embedding(classes, channels)
        self.bias = nn.Embedding(classes, channels)

    def forward(self, h: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        gain, bias = self.gain(labels), self.bias(labels)
        return self.norm(h) * gain[:, :, None, None] + bias[:, :, None, None]


class Discriminator(nn.Module):
    def __init__(self, config: GanConfig) -> None:
        super().__init__()
        width, base = config.d_width, config.image_size // 4
        sn = config.spectral_norm
        self.body = nn.Sequential(
            _sn(nn.Conv2d(1, width, 4, stride=2, padding=1), sn),
            nn.LeakyReLU(0.2, inplace=True),
            _sn(nn.Conv2d(width, 2 * width, 4, stride=2, padding=1, bias=sn), sn),
            *([] if sn else [nn.BatchNorm2d(2 * width)]),
            nn.LeakyReLU(0.2, inplace=True),
            *([BatchStd(config.d_batch_std)] if config.d_batch_std else []),
            nn.Flatten(),
            *dropout(config.d_dropout),
            _sn(nn.Linear((2 * width + bool(config.d_batch_std)) * base * base, 4 * width), sn),
            nn.LeakyReLU(0.2, inplace=True),
        )
        self.out = _sn(nn.Linear(4 * width, 1), sn)
        self.label = _sn(nn.Embedding(config.classes, 4 * width), sn)

    def forward(self, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """One logit per image: real and of the given class (projection discriminator)."""
        h = self.body(images)
        return self.out(h).squeeze(1) + (self.label(labels) * h).sum(dim=1)


class BatchStd(nn.Module):
    """Appends one feature map: the mean standard deviation of the features over each group of ``group`` images.

    Group members are spread over the batch (image i is in group column i mod N/group); a batch that does not
    divide into groups is taken as one group.
    """

    def __init__(self, group: int) -> None:
        super().__init__()
        self.group = group

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        count, channels, height, width = h.shape
        group = self.group if count % self.group == 0 else count
        grouped = h.reshape(group, count // group, channels, height, width)
        spread = grouped.var(dim=0, unbiased=False).add(1e-8).sqrt().mean(dim=(1, 2, 3))
        feature = spread.repeat(group).view(count, 1, 1, 1).expand(count, 1, height, width)
        return torch.cat([h, feature], dim=1)


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
        """Images for standard-normal noise ``z``, scaled by the config's latent_scale (1: as drawn)."""
        return self.generator(z * self.config.latent_scale, labels)  # times 1.0 is exact: old checkpoints unchanged


def _g_convs(channels: int, count: int, classes: int) -> list[nn.Module]:
    return conv_stack(channels, count, norm=lambda width: _batch_norm(width, classes))


def _batch_norm(channels: int, classes: int) -> nn.Module:
    """Plain batch norm, or with a gain and bias per class when ``classes`` is above 0."""
    return ClassBatchNorm2d(channels, classes) if classes else nn.BatchNorm2d(channels)


def _sn(module: nn.Module, on: bool) -> nn.Module:
    return nn.utils.parametrizations.spectral_norm(module) if on else module


def _dcgan_init(module: nn.Module) -> None:
    if nn.utils.parametrize.is_parametrized(module):
        return  # spectrally normalised layers keep torch's default initialisation
    if isinstance(module, nn.Conv2d | nn.ConvTranspose2d | nn.Linear):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.BatchNorm1d | nn.BatchNorm2d) and module.affine:
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)
    elif isinstance(module, nn.Embedding):
        nn.init.normal_(module.weight, 0.0, 0.02)
    elif isinstance(module, ClassBatchNorm2d):  # after its embeddings: ``apply`` visits children first
        nn.init.normal_(module.gain.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias.weight)

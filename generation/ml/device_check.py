"""One net trained briefly on two devices, and sampled on both from one checkpoint and one seed.

``benchmarks/cuda_check.py`` runs ``device_compare`` with the CPU and CUDA for each net; the tests run it with the
CPU twice. What is compared is what sampling computes before rounding to pixels or choosing a token, in float32:

- gan: images in [-1, 1] for ``SAMPLES`` labels;
- vae: the decoder's pixel probabilities for ``SAMPLES`` draws from the prior;
- lm: the next-character probabilities over ``SAMPLES`` windows of random characters;
- classifier: the label probabilities of ``SAMPLES`` made-up texts.

Both devices must agree within ``SAMPLING_TOLERANCE`` (largest absolute difference). The training speed-up is the
first device's training seconds over the second's, for the same epochs, seed and data.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from generation.ml.checkpoints import checkpoint_loads
from generation.ml.data import DigitData, LabelledTexts, TextCorpus
from generation.ml.device import SAMPLING_TOLERANCE, device_resolve, seeded_randn
from generation.ml.nets.attention import CharTransformer
from generation.ml.nets.gan import ConditionalGan
from generation.ml.nets.textclf import TextClassifier
from generation.ml.nets.vae import ConvVae
from generation.ml.sampling import gan_sample_labels
from generation.ml.training import Kind, train

# How many images, windows or texts each comparison samples.
SAMPLES = 32


@dataclass(frozen=True)
class DeviceComparison:
    kind: str
    devices: tuple[str, str]
    seconds: tuple[float, float]  # training seconds on each device
    max_abs_diff: float  # between the two devices' samples of one checkpoint and seed
    tolerance: float = SAMPLING_TOLERANCE

    @property
    def within_tolerance(self) -> bool:
        return self.max_abs_diff <= self.tolerance

    @property
    def speed_up(self) -> float:
        """How many times faster the second device trained than the first."""
        return self.seconds[0] / self.seconds[1] if self.seconds[1] > 0 else float("inf")

    def line(self) -> str:
        verdict = "ok" if self.within_tolerance else "OVER TOLERANCE"
        first, second = self.devices
        return (
            f"{self.kind:<10} training {first} {self.seconds[0]:7.1f} s, {second} {self.seconds[1]:7.1f} s, "
            f"speed-up x{self.speed_up:.2f}; sampling max |{first} - {second}| {self.max_abs_diff:.2e} "
            f"(tolerance {self.tolerance:.0e}) {verdict}"
        )


def sample_floats(net: nn.Module, *, seed: int, samples: int = SAMPLES) -> torch.Tensor:
    """The float32 outputs sampling computes for ``seed`` on the net's own device, returned on the CPU."""
    generator = torch.Generator().manual_seed(seed)
    device = next(net.parameters()).device
    net.eval()
    with torch.inference_mode():
        if isinstance(net, ConditionalGan):
            labels = torch.arange(samples) % net.config.classes
            return gan_sample_labels(net, labels, seed=seed).float().cpu()
        if isinstance(net, ConvVae):
            z = seeded_randn((samples, net.config.latent_dim), generator=generator, device=device)
            return torch.sigmoid(net.decode(z)).float().cpu()
        if isinstance(net, CharTransformer):
            ids = torch.randint(1, net.config.vocab_size, (samples, net.config.block_size), generator=generator)
            return torch.softmax(net(ids.to(device)).float(), dim=-1).cpu()
        if isinstance(net, TextClassifier):
            vocab = "的一是不了人我在有他这中大来上个国和到说们为子时道出要就可也你对生能而"
            picks = torch.randint(0, len(vocab), (samples, 24), generator=generator).tolist()
            return net.probabilities(["".join(vocab[i] for i in row) for row in picks]).float()
    raise ValueError(f"No sampling to compare for a {type(net).__name__}.")


def sampling_difference(
    checkpoint: bytes, sha256: str, *, seed: int, devices: tuple[str, str], samples: int = SAMPLES
) -> float:
    """Largest absolute difference between the samples of one checkpoint and seed on the two devices."""
    first, second = (
        sample_floats(checkpoint_loads(checkpoint, expected_sha256=sha256, device=d).net, seed=seed, samples=samples)
        for d in devices
    )
    return float((first - second).abs().max())


def device_compare(
    kind: Kind,
    *,
    devices: tuple[str, str] = ("cpu", "cuda"),
    data: DigitData | TextCorpus | LabelledTexts,
    config: dict[str, Any] | None = None,
    epochs: int = 1,
    seed: int = 0,
    threads: int | None = None,
    cache_dir: Path | None = None,
) -> DeviceComparison:
    """Train ``kind`` for ``epochs`` on each device (same seed, data and configuration), then sample the first
    device's checkpoint on both devices for ``seed`` and measure how far apart the samples are.

    Each device is named as ``GENAI_TORCH_DEVICE`` names it (``device_resolve``: ``cuda`` is refused without a GPU)."""
    first, second = (str(device_resolve(device, setting="a compared device")) for device in devices)
    devices = (first, second)
    results = [
        train(
            kind,
            seed=seed,
            epochs=epochs,
            config=copy.deepcopy(config) if config else None,
            data=data,
            threads=threads,
            cache_dir=cache_dir,
            device=device,
        )
        for device in devices
    ]
    difference = sampling_difference(results[0].checkpoint, results[0].checkpoint_sha256, seed=seed, devices=devices)
    return DeviceComparison(
        kind=kind,
        devices=devices,
        seconds=(results[0].seconds, results[1].seconds),
        max_abs_diff=difference,
    )

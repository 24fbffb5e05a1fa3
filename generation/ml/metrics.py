"""Quality measures for the generation nets, each meant to be read next to a baseline from the same run.

Digits: a small CNN classifier trained on the real training digits supplies 64-d features for a
Fréchet distance (digit-FID) and checks that a conditional sample shows the digit asked for.
Text: held-out nats per character, with unigram and bigram baselines on the same vocabulary.
"""

from __future__ import annotations

import hashlib
import io
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn

from generation.bundled import bundled_bytes, manifest
from generation.ml.data import DigitData, default_cache_dir
from generation.ml.device import module_device
from generation.ml.nets.attention import CharTransformer
from generation.ml.nets.vae import ConvVae, binarize

CLASSIFIER_VERSION = 2
CLASSIFIER_EPOCHS = 16


class MeasurementStopped(Exception):  # noqa: N818
    """A measurement was asked to stop part way (the run it belongs to is stopping); it has no result."""


def _check(should_stop: Callable[[], bool] | None) -> None:
    if should_stop is not None and should_stop():
        raise MeasurementStopped


FEATURES = 64


class DigitClassifier(nn.Module):
    """Conv net for 8x8 up to 28x28 digits; ``features`` is the 64-d layer before the class logits."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(32, 64, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.AdaptiveMaxPool2d(8),
            nn.Conv2d(64, 64, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.AdaptiveAvgPool2d(4),
            nn.Flatten(),
            nn.Dropout(0.3),
            nn.Linear(64 * 16, FEATURES),
            nn.ReLU(inplace=True),
        )
        self.out = nn.Linear(FEATURES, 10)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.body(x))


def _as_input(images: torch.Tensor) -> torch.Tensor:
    """uint8 [N, H, W] (0-255) or float [N, 1, H, W] in [-1, 1] → float [N, 1, H, W] in [-1, 1]."""
    if images.dtype == torch.uint8:
        return images.to(torch.float32).div(127.5).sub(1.0).unsqueeze(1)
    return images if images.dim() == 4 else images.unsqueeze(1)


def classifier_key(data: DigitData) -> str:
    """Names the classifier of ``data``: the same key means the same digits and the same classifier code version."""
    digest = hashlib.sha256()
    for part in (data.fingerprint, str(CLASSIFIER_VERSION)):
        digest.update(part.encode())
    digest.update(data.train_x.numpy().tobytes())
    digest.update(data.train_y.numpy().tobytes())
    return digest.hexdigest()[:24]


def digit_classifier_train(data: DigitData, *, epochs: int = CLASSIFIER_EPOCHS, seed: int = 0) -> DigitClassifier:
    """A classifier trained on ``data``'s training digits; deterministic for one machine and thread count."""
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)  # dropout
    net = DigitClassifier()
    optimizer = torch.optim.Adam(net.parameters(), lr=2e-3)
    x, y = _as_input(data.train_x), data.train_y
    net.train()
    for _ in range(epochs):
        order = torch.randperm(len(x), generator=generator)
        for batch in order.split(64):
            # Small random shifts make the features less tied to exact pixel positions.
            images = x[batch]
            dx, dy = (int(v) for v in torch.randint(-1, 2, (2,), generator=generator))
            images = torch.roll(images, shifts=(dy, dx), dims=(2, 3))
            loss = F.cross_entropy(net(images), y[batch])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    return net.eval()


def _bundled_classifier(data: DigitData) -> DigitClassifier | None:
    """The classifier that ships in the repository, if it was trained on ``data`` (its hash checked)."""
    entry = manifest().get("digit_classifier")
    if not entry or entry.get("key") != classifier_key(data):
        return None
    net = DigitClassifier()
    net.load_state_dict(torch.load(io.BytesIO(bundled_bytes(entry)), map_location="cpu", weights_only=True))
    return net.eval()


def digit_classifier(
    data: DigitData, *, cache_dir: Path | None = None, epochs: int = CLASSIFIER_EPOCHS
) -> DigitClassifier:
    """The classifier for this data's training digits.

    The one bundled in the repository when it was trained on these digits, so that every machine measures with
    the same numbers (a classifier trained on another CPU has other features, and so other digit-FIDs); else one
    from the cache, or trained (seed 0) and cached.
    """
    bundled = _bundled_classifier(data) if epochs == CLASSIFIER_EPOCHS else None
    if bundled is not None:
        return bundled
    folder = cache_dir or default_cache_dir()
    path = folder / f"digit-classifier-{classifier_key(data)}.pt"
    net = DigitClassifier()
    if path.is_file():
        try:
            net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
            return net.eval()
        except Exception:  # noqa: S110 (a damaged cache file is rebuilt below)
            pass
    net = digit_classifier_train(data, epochs=epochs)
    folder.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    torch.save(net.state_dict(), buffer)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(buffer.getvalue())
    tmp.replace(path)
    return net


def weights_sha256(net: nn.Module) -> str:
    """SHA-256 of a net's weights and buffers, in state-dict order: the same hex digest means the same numbers.

    The digit classifier is trained on each machine at first use, and floating-point results differ between CPUs,
    so its features (and every digit-FID, the floor included) can differ between machines: this names which one
    a figure was measured with.
    """
    digest = hashlib.sha256()
    for name, tensor in net.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def classifier_features(
    classifier: DigitClassifier, images: torch.Tensor, *, should_stop: Callable[[], bool] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """64-d features (float64) and predicted classes of images (uint8 [N, H, W] or float [N, 1, H, W] in [-1, 1])."""
    features, predictions = [], []
    device = module_device(classifier)
    with torch.inference_mode():
        classifier.eval()
        for batch in _as_input(images).split(512):
            _check(should_stop)
            h = classifier.features(batch.to(device))
            features.append(h.double().cpu().numpy())
            predictions.append(classifier.out(h).argmax(1).cpu().numpy())
    return np.concatenate(features), np.concatenate(predictions)


def classifier_accuracy(classifier: DigitClassifier, images: torch.Tensor, labels: torch.Tensor) -> float:
    _, predicted = classifier_features(classifier, images)
    return float((predicted == labels.numpy()).mean())


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """||mu1 - mu2||² + tr(S1 + S2 - 2 (S1 S2)^½), with the trace of the square root from a symmetric eigensolve."""
    mu1, mu2 = np.atleast_1d(mu1).astype(np.float64), np.atleast_1d(mu2).astype(np.float64)
    sigma1, sigma2 = np.atleast_2d(sigma1).astype(np.float64), np.atleast_2d(sigma2).astype(np.float64)
    values, vectors = np.linalg.eigh(sigma1)
    root1 = (vectors * np.sqrt(values.clip(min=0.0))) @ vectors.T
    middle = root1 @ sigma2 @ root1
    trace_root = np.sqrt(np.linalg.eigvalsh((middle + middle.T) / 2.0).clip(min=0.0)).sum()
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * trace_root)


def feature_stats(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return features.mean(axis=0), np.cov(features, rowvar=False)


def fid(features_a: np.ndarray, features_b: np.ndarray) -> float:
    return frechet_distance(*feature_stats(features_a), *feature_stats(features_b))


def kid(
    features_a: np.ndarray, features_b: np.ndarray, *, subsets: int = 50, subset_size: int = 1000, seed: int = 0
) -> tuple[float, float]:
    """Kernel distance (KID): the unbiased squared MMD under the kernel (x·y / d + 1)³, over random subsets.

    The Fréchet distance of two finite samples is above 0 even when both come from one distribution, and by
    more the smaller they are: that is most of the digit-FID floor. This estimate has no such bias: two samples
    of one distribution score about 0 whatever their sizes, so a figure above 0 by more than its spread is a
    difference between the distributions. Both samples are first standardized by the per-dimension mean and
    standard deviation of ``features_b`` (the reference), so the kernel sees values near 1 whatever the scale of
    the features (on raw classifier features, whose dimensions vary by about 15, the cube swamps the estimate
    with noise). Each subset draws ``subset_size`` rows (fewer if a sample is smaller) from each sample without
    replacement. Returns the mean and the standard deviation over subsets. A sample no larger than
    ``subset_size`` (the benchmark's 1,000 test digits) is whole in every subset, so the spread then shows only
    the other sample's variation, not that of the smaller one.
    """
    a, b = np.asarray(features_a, dtype=np.float64), np.asarray(features_b, dtype=np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(f"KID needs two [N, D] arrays with the same D, got shapes {a.shape} and {b.shape}.")
    size = min(subset_size, len(a), len(b))
    if size < 2 or subsets < 1:
        raise ValueError(f"KID needs at least 2 rows in each sample and 1 subset, got {size} rows, {subsets} subsets.")
    centre, scale = b.mean(axis=0), b.std(axis=0)
    scale[scale == 0] = 1.0
    a, b = (a - centre) / scale, (b - centre) / scale
    dim = a.shape[1]
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(subsets):
        x = a[rng.choice(len(a), size, replace=False)]
        y = b[rng.choice(len(b), size, replace=False)]
        k_xx, k_yy, k_xy = ((p @ q.T / dim + 1.0) ** 3 for p, q in ((x, x), (y, y), (x, y)))
        within = (k_xx.sum() - np.trace(k_xx) + k_yy.sum() - np.trace(k_yy)) / (size * (size - 1))
        values.append(within - 2.0 * k_xy.mean())
    return float(np.mean(values)), float(np.std(values))


def per_class_gaussian_samples(data: DigitData, labels: torch.Tensor, *, seed: int) -> torch.Tensor:
    """Baseline: each image drawn from a Gaussian fitted to the training pixels of its class (uint8)."""
    rng = np.random.default_rng(seed)
    x = data.train_x.numpy().reshape(len(data.train_x), -1).astype(np.float64)
    y = data.train_y.numpy()
    out = np.zeros((len(labels), x.shape[1]))
    wanted = labels.numpy()
    for digit in range(10):
        rows = np.flatnonzero(wanted == digit)
        if len(rows):
            members = x[y == digit]
            out[rows] = rng.multivariate_normal(
                members.mean(0), np.cov(members, rowvar=False), size=len(rows), method="eigh"
            )
    return torch.from_numpy(out.clip(0, 255).round().astype(np.uint8).reshape(-1, *data.train_x.shape[1:]))


def training_digit_samples(data: DigitData, labels: torch.Tensor, *, seed: int) -> torch.Tensor:
    """Reference: each image a training digit of its requested class, drawn at random with replacement (uint8).

    The best a sampler of the training digits' own distribution can expect: unlike the floor, which uses the
    training digits once each, a random draw of that size repeats some and misses others, and that alone puts
    its digit-FID above the floor.
    """
    rng = np.random.default_rng(seed)
    y = data.train_y.numpy()
    chosen = np.zeros(len(labels), dtype=np.int64)
    wanted = labels.numpy()
    for digit in np.unique(wanted):
        members = np.flatnonzero(y == digit)
        if not len(members):
            raise ValueError(f"No training digit of class {int(digit)} to draw from.")
        rows = np.flatnonzero(wanted == digit)
        chosen[rows] = rng.choice(members, size=len(rows), replace=True)
    return data.train_x[torch.from_numpy(chosen)]


def independent_pixel_samples(data: DigitData, count: int, *, seed: int) -> torch.Tensor:
    """Baseline: each pixel drawn on its own from that pixel's values over all training images (uint8)."""
    rng = np.random.default_rng(seed)
    x = data.train_x.numpy().reshape(len(data.train_x), -1)
    rows = rng.integers(0, len(x), size=(count, x.shape[1]))
    pixels = x[rows, np.arange(x.shape[1])]
    return torch.from_numpy(pixels.reshape(count, *data.train_x.shape[1:]).copy())


def nearest_train_distance(images: torch.Tensor, train: torch.Tensor) -> float:
    """Mean over ``images`` of the RMS pixel distance (pixels scaled 0-1) to the nearest training image.

    Copies of training digits score 0; compare with the same figure for real held-out digits.
    """
    a = _as_input(images).flatten(1).add(1.0).div(2.0)
    b = _as_input(train).flatten(1).add(1.0).div(2.0)
    nearest = []
    with torch.inference_mode():
        for chunk in a.split(256):
            nearest.append(torch.cdist(chunk, b).min(dim=1).values)
    return float(torch.cat(nearest).mean() / math.sqrt(a.shape[1]))


def vae_test_nats(net: ConvVae, images: torch.Tensor, *, seed: int = 0) -> float:
    """Mean −ELBO in nats per image of binarized uint8 images (one posterior sample per image, fixed seed)."""
    generator = torch.Generator().manual_seed(seed)
    total = 0.0
    with torch.inference_mode():
        net.eval()
        x = binarize(images.cpu()).to(module_device(net))
        for batch in x.split(500):
            loss, _, _ = net.negative_elbo(batch, generator=generator)
            total += float(loss.sum())
    return total / len(images)


def lm_nats_per_char(
    net: CharTransformer, text: str, *, max_chars: int | None = None, should_stop: Callable[[], bool] | None = None
) -> float:
    """Held-out cross-entropy in nats per character, scored in consecutive windows of the net's context."""
    ids = torch.tensor(
        net.encode(text[: max_chars + 1] if max_chars else text), dtype=torch.long, device=module_device(net)
    )
    block = net.config.block_size
    if len(ids) < 2:
        raise ValueError("The held-out text needs at least two characters.")
    total, count = 0.0, 0
    with torch.inference_mode():
        net.eval()
        starts = list(range(0, len(ids) - 1, block))
        for group in range(0, len(starts), 16):
            _check(should_stop)
            chunk = starts[group : group + 16]
            full = [s for s in chunk if s + block + 1 <= len(ids)]
            if full:
                windows = torch.stack([ids[s : s + block + 1] for s in full])
                logits = net(windows[:, :-1])
                total += float(F.cross_entropy(logits.flatten(0, 1), windows[:, 1:].flatten(), reduction="sum"))
                count += windows[:, 1:].numel()
            for s in chunk:
                if s + block + 1 > len(ids):
                    window = ids[s:].unsqueeze(0)
                    logits = net(window[:, :-1])
                    total += float(F.cross_entropy(logits[0], window[0, 1:], reduction="sum"))
                    count += window.shape[1] - 1
    return total / count


@dataclass(frozen=True)
class NgramBaselines:
    unigram: float
    bigram: float
    uniform: float


def ngram_baselines(train: str, test: str, vocab: str, *, discount: float = 0.75) -> NgramBaselines:
    """Nats per character of ``test`` under an add-one unigram and an absolute-discount bigram fitted on ``train``.

    Characters outside ``vocab`` count as vocab[0] (the unknown mark), as they do for the net; the
    bigram backs off to the unigram with the mass it discounts. The first character of the test text
    is not scored, as for the net.
    """
    index = {c: i for i, c in enumerate(vocab)}
    size = len(vocab)
    a = np.fromiter((index.get(c, 0) for c in train), dtype=np.int64, count=len(train))
    b = np.fromiter((index.get(c, 0) for c in test), dtype=np.int64, count=len(test))
    if len(a) < 2 or len(b) < 2:
        raise ValueError("The n-gram baselines need at least two characters of train and of test text.")
    unigram_counts = np.bincount(a, minlength=size).astype(np.float64)
    unigram = (unigram_counts + 1.0) / (unigram_counts.sum() + size)
    previous, following = b[:-1], b[1:]
    unigram_nats = float(-np.log(unigram[following]).mean())

    pairs = a[:-1] * size + a[1:]
    codes, counts = np.unique(pairs, return_counts=True)
    context_total = np.bincount(a[:-1], minlength=size).astype(np.float64)
    context_types = np.bincount(codes // size, minlength=size).astype(np.float64)
    wanted = previous * size + following
    where = np.searchsorted(codes, wanted).clip(max=len(codes) - 1)
    pair_count = np.where(codes[where] == wanted, counts[where], 0).astype(np.float64)
    seen = context_total[previous]
    safe = np.where(seen > 0, seen, 1.0)
    backoff_mass = np.where(seen > 0, discount * context_types[previous] / safe, 1.0)
    probability = np.where(seen > 0, np.maximum(pair_count - discount, 0.0) / safe, 0.0)
    probability = probability + backoff_mass * unigram[following]
    bigram_nats = float(-np.log(probability).mean())
    return NgramBaselines(unigram=unigram_nats, bigram=bigram_nats, uniform=math.log(size))

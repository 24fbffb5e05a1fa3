"""Metrics on inputs whose answers can be worked out by hand, and the digit classifier on real digits."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from generation.ml import metrics
from generation.ml.data import DigitData
from generation.ml.images import image_grid, png_encode


def test_frechet_distance_closed_forms() -> None:
    # 1-D: (m1 - m2)² + s1 + s2 - 2 sqrt(s1 s2)
    assert metrics.frechet_distance(np.array([1.0]), np.array([[4.0]]), np.array([3.0]), np.array([[9.0]])) == (
        pytest.approx(4 + 4 + 9 - 2 * 6)
    )
    # Diagonal covariances add up per dimension.
    d = metrics.frechet_distance(np.zeros(2), np.diag([1.0, 4.0]), np.ones(2), np.diag([1.0, 1.0]))
    assert d == pytest.approx(2 + (1 + 1 - 2) + (4 + 1 - 2 * 2))
    sigma = np.array([[2.0, 0.5], [0.5, 1.0]])
    assert metrics.frechet_distance(np.ones(2), sigma, np.ones(2), sigma) == pytest.approx(0.0, abs=1e-9)


def test_fid_of_shifted_features() -> None:
    rng = np.random.default_rng(0)
    a = rng.normal(size=(5000, 3))
    assert metrics.fid(a, a + 2.0) == pytest.approx(12.0, abs=1e-6)


def test_kid_by_hand() -> None:
    # 1-D, two rows each, one subset holding every row. b has mean 0 and standard deviation 1, so the
    # standardization leaves both as they are, and k(x, y) = (x y + 1)³.
    a, b = np.array([[0.0], [1.0]]), np.array([[-1.0], [1.0]])
    within_a = (0 * 1 + 1) ** 3  # the off-diagonal entries, averaged
    within_b = (-1 * 1 + 1) ** 3
    across = ((0 * -1 + 1) ** 3 + (0 * 1 + 1) ** 3 + (1 * -1 + 1) ** 3 + (1 * 1 + 1) ** 3) / 4
    mean, spread = metrics.kid(a, b, subsets=1, subset_size=2)
    assert mean == pytest.approx(within_a + within_b - 2 * across)
    assert spread == 0.0
    # Scaling and shifting both samples alike changes nothing: the reference's statistics set the units.
    assert metrics.kid(7 * a + 3, 7 * b + 3, subsets=1, subset_size=2)[0] == pytest.approx(mean)


def test_kid_has_no_bias_from_sample_size_where_fid_has() -> None:
    rng = np.random.default_rng(0)
    small, large = rng.normal(size=(300, 8)), rng.normal(size=(3000, 8))
    shifted = rng.normal(size=(3000, 8)) + 0.3
    same, same_spread = metrics.kid(small, large, subsets=20, subset_size=300)
    apart, _ = metrics.kid(shifted, large, subsets=20, subset_size=300)
    assert abs(same) < 3 * same_spread + 1e-3  # one distribution: about 0
    assert apart > 20 * abs(same)
    assert metrics.fid(small, large) > 0.05  # the Fréchet distance of the same pair is well above 0


@pytest.mark.parametrize(
    ("a", "b", "words"),
    [
        (np.zeros((5, 3)), np.zeros((5, 4)), "same D"),
        (np.zeros(5), np.zeros(5), "[N, D]"),
        (np.zeros((1, 3)), np.zeros((5, 3)), "at least 2 rows"),
    ],
)
def test_kid_refuses_bad_shapes(a: np.ndarray, b: np.ndarray, words: str) -> None:
    with pytest.raises(ValueError, match=re.escape(words)):
        metrics.kid(a, b)


def test_ngram_baselines_by_hand() -> None:
    vocab = "\ufffdab"
    result = metrics.ngram_baselines("ab" * 100, "abab", vocab)
    p_a, p_b = 101 / 203, 101 / 203  # add-one over 3 entries, 200 characters
    assert result.unigram == pytest.approx(-(math.log(p_b) + math.log(p_a) + math.log(p_b)) / 3)
    # After "a" always "b" (100 of 100); after "b" always "a" (99 of 99); one distinct follower each.
    p_b_after_a = (100 - 0.75) / 100 + 0.75 / 100 * p_b
    p_a_after_b = (99 - 0.75) / 99 + 0.75 / 99 * p_a
    assert result.bigram == pytest.approx(-(2 * math.log(p_b_after_a) + math.log(p_a_after_b)) / 3)
    assert result.uniform == pytest.approx(math.log(3))
    # A character never seen in training counts as the unknown mark, with add-one probability.
    unseen = metrics.ngram_baselines("ab" * 100, "ax", vocab)
    assert unseen.unigram == pytest.approx(-math.log(1 / 203))


def test_nearest_train_distance_by_hand() -> None:
    train = torch.zeros(3, 4, 4, dtype=torch.uint8)
    train[1] = 255
    assert metrics.nearest_train_distance(train[:2], train) == pytest.approx(0.0)
    half = torch.zeros(1, 4, 4, dtype=torch.uint8)
    half[0, :2] = 255  # half the pixels differ from both the black and the white image
    assert metrics.nearest_train_distance(half, train) == pytest.approx(math.sqrt(0.5))


def test_baseline_samplers(digits: DigitData) -> None:
    labels = torch.arange(50) % 10
    gaussian = metrics.per_class_gaussian_samples(digits, labels, seed=0)
    assert gaussian.shape == (50, 8, 8) and gaussian.dtype == torch.uint8
    pixels = metrics.independent_pixel_samples(digits, 20, seed=0)
    assert pixels.shape == (20, 8, 8)
    # Each pixel value occurs at that pixel somewhere in the training images.
    train = digits.train_x.reshape(len(digits.train_x), -1)
    for row in pixels.reshape(20, -1)[:3]:
        assert all(bool((train[:, i] == v).any()) for i, v in enumerate(row))
    drawn = metrics.training_digit_samples(digits, labels, seed=0)
    assert drawn.shape == (50, 8, 8) and drawn.dtype == torch.uint8
    # Each image is a training digit of the class asked for.
    for image, label in zip(drawn, labels, strict=True):
        same = (digits.train_x == image).flatten(1).all(dim=1)
        assert bool((digits.train_y[same] == label).any())
    assert torch.equal(drawn, metrics.training_digit_samples(digits, labels, seed=0))
    assert not torch.equal(drawn, metrics.training_digit_samples(digits, labels, seed=1))
    # With replacement: asking for more digits of a class than it has is fine.
    many = torch.zeros(int((digits.train_y == 0).sum()) + 5, dtype=torch.long)
    assert len(metrics.training_digit_samples(digits, many, seed=0)) == len(many)


def test_classifier_is_cached_and_separates_real_from_baselines(digits: DigitData, ml_cache: Path) -> None:
    classifier = metrics.digit_classifier(digits, cache_dir=ml_cache)
    files = list(ml_cache.glob("digit-classifier-*.pt"))
    assert len(files) == 1
    assert metrics.classifier_accuracy(classifier, digits.test_x, digits.test_y) > 0.9
    again = metrics.digit_classifier(digits, cache_dir=ml_cache)
    for name, tensor in classifier.state_dict().items():
        assert torch.equal(again.state_dict()[name], tensor)
    assert metrics.weights_sha256(again) == metrics.weights_sha256(classifier)
    with torch.no_grad():
        again.out.bias[0] += 1e-6
    assert metrics.weights_sha256(again) != metrics.weights_sha256(classifier)
    test_features, _ = metrics.classifier_features(classifier, digits.test_x)
    train_features, _ = metrics.classifier_features(classifier, digits.train_x)
    pixels = metrics.independent_pixel_samples(digits, len(digits.train_x), seed=1)
    floor = metrics.fid(train_features, test_features)
    noise = metrics.fid(metrics.classifier_features(classifier, pixels)[0], test_features)
    assert noise > 10 * floor


def test_png_encoding() -> None:
    grid = image_grid([np.full((2, 3), 7, dtype=np.uint8)] * 3, columns=2, scale=2)
    assert grid.shape == ((2 * 3 + 1) * 2, (2 * 4 + 1) * 2)
    blob = png_encode(grid)
    assert blob.startswith(b"\x89PNG\r\n\x1a\n") and b"IEND" in blob
    with pytest.raises(ValueError):
        png_encode(np.zeros((2, 2), dtype=np.float32))

"""The GAN's optional settings (loss, label smoothing, extra generator convolutions, spectral norm, dropout,
learning-rate decay, batch-norm statistics of the averaged generator, shifted images for the discriminator,
minibatch standard deviation, class-conditional batch norm in the generator, R1 penalty, the latent scale
chosen after training)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from generation.ml.checkpoints import checkpoint_dumps, checkpoint_loads, checkpoint_sha256
from generation.ml.data import DigitData
from generation.ml.nets.gan import ConditionalGan, GanConfig
from generation.ml.training import EVAL_SEED, train
from generation.ml.training.base import Clock as _Clock
from generation.ml.training.gan import GanTrainer as _GanTrainer

NEW_KEYS = (
    "ema_warmup",
    "loss",
    "label_smoothing",
    "g_convs",
    "spectral_norm",
    "d_dropout",
    "lr_decay_from",
    "ema_bn_batches",
    "augment_shift",
    "d_batch_std",
    "g_class_norm",
    "r1_gamma",
    "r1_every",
    "latent_scale",
    "latent_scale_search",
    "latent_scale_step",
    "latent_scale_draws",
)
OPTIONS = {"loss": "hinge", "g_convs": 1, "spectral_norm": True, "d_dropout": 0.2}


def test_a_checkpoint_written_before_the_options_still_loads() -> None:
    torch.manual_seed(0)
    net = ConditionalGan(
        GanConfig.tiny().replace(g_convs=0, spectral_norm=False, d_batch_std=0)
    ).eval()  # as before all
    old_config = {k: v for k, v in net.config.to_dict().items() if k not in NEW_KEYS}
    blob = checkpoint_dumps(kind="gan", config=old_config, state=net.state_dict(), extra={})
    loaded = checkpoint_loads(blob, expected_sha256=checkpoint_sha256(blob))
    assert loaded.net.config.g_convs == 0 and not loaded.net.config.spectral_norm  # type: ignore[union-attr]
    assert loaded.net.config.d_batch_std == 0 and not loaded.net.config.g_class_norm  # type: ignore[union-attr]
    assert loaded.net.config.latent_scale == 1.0  # type: ignore[union-attr]
    z, labels = torch.randn(3, 16), torch.tensor([1, 2, 3])
    with torch.inference_mode():
        assert torch.equal(loaded.net.generate(z, labels), net.generate(z, labels))  # type: ignore[operator]


def test_partial_settings_take_todays_defaults() -> None:
    assert GanConfig.from_dict({"epochs": 3, "g_width": 32}) == GanConfig(epochs=3, g_width=32)


def test_options_change_the_net_and_round_trip() -> None:
    torch.manual_seed(0)
    config = GanConfig.tiny().replace(**OPTIONS)
    net = ConditionalGan(config)
    plain = ConditionalGan(GanConfig.tiny().replace(g_convs=0, spectral_norm=False))
    assert sum(p.numel() for p in net.generator.parameters()) > sum(p.numel() for p in plain.generator.parameters())
    labels = torch.tensor([0, 1, 2, 9])
    images = net.generate(torch.randn(4, config.latent_dim), labels)
    assert images.shape == (4, 1, 8, 8) and net.discriminator(images, labels).shape == (4,)
    net.eval()
    blob = checkpoint_dumps(kind="gan", config=config.to_dict(), state=net.state_dict(), extra={})
    loaded = checkpoint_loads(blob, expected_sha256=checkpoint_sha256(blob))
    z = torch.randn(4, config.latent_dim)
    with torch.inference_mode():
        assert torch.equal(loaded.net.generate(z, labels), net.generate(z, labels))  # type: ignore[operator]


@pytest.mark.parametrize(
    "bad",
    [
        {"loss": "wasserstein"},
        {"label_smoothing": 0.5},
        {"g_convs": -1},
        {"d_dropout": 1.0},
        {"lr_decay_from": 1.5},
        {"ema_bn_batches": -1},
        {"augment_shift": -1},
        {"augment_shift": 2},  # a quarter of the tiny config's 8 pixels
        {"d_batch_std": -1},
        {"r1_gamma": -0.1},
        {"r1_every": 0},
        {"latent_scale": 0.0},
        {"latent_scale_search": 1.0},
        {"latent_scale_search": 0.1, "latent_scale_step": 0.2},
        {"latent_scale_search": 0.1, "latent_scale_step": 0.0},
        {"latent_scale_draws": 0},
    ],
)
def test_bad_options_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="GAN"):
        GanConfig.tiny().replace(**bad)


@pytest.mark.parametrize(
    "options",
    [
        OPTIONS,
        {"label_smoothing": 0.1},
        {"lr_decay_from": 0.0},
        {"ema_bn_batches": 2},
        {"augment_shift": 1},
        {"d_batch_std": 0},
        {"g_class_norm": True},
        {"r1_gamma": 1.0, "r1_every": 2},
    ],
)
def test_options_train(options: dict[str, object], digits: DigitData, ml_cache: Path) -> None:
    config = GanConfig.tiny().replace(**options).to_dict()
    result = train("gan", seed=3, epochs=1, config=config, data=digits, cache_dir=ml_cache, threads=1)
    assert all(math.isfinite(v) for v in result.epochs[0].losses.values())
    assert math.isfinite(result.best_metric)
    loaded = checkpoint_loads(result.checkpoint, expected_sha256=result.checkpoint_sha256)
    assert loaded.config == {**config, "latent_scale": loaded.extra["latent_scale"]}


def test_learning_rates_fall_linearly_to_zero_after_the_decay_starts(digits: DigitData, ml_cache: Path) -> None:
    config = GanConfig.tiny().replace(lr_decay_from=0.5, lr_g=1e-3, lr_d=4e-3)
    trainer = _GanTrainer(0, config, digits, ml_cache, epochs=4)
    assert trainer.total_steps is not None
    clock = _Clock(None, None)

    def rates_at(fraction: float) -> tuple[float, float]:
        trainer.step = round(trainer.total_steps * fraction)  # type: ignore[operator]
        trainer._set_learning_rates(clock)
        return trainer.opt_g.param_groups[0]["lr"], trainer.opt_d.param_groups[0]["lr"]

    assert rates_at(0.25) == (1e-3, 4e-3)
    assert rates_at(0.5) == (1e-3, 4e-3)
    assert rates_at(0.75) == pytest.approx((5e-4, 2e-3), rel=0.05)
    assert rates_at(1.0) == (0.0, 0.0)


def test_the_averaged_generator_gets_batch_norm_statistics_of_its_own(digits: DigitData, ml_cache: Path) -> None:
    config = GanConfig.tiny().replace(ema_bn_batches=3)
    trainer = _GanTrainer(0, config, digits, ml_cache, epochs=1)
    trainer.train_epoch(1, _Clock(None, None))
    assert trainer.average is not None
    average = trainer.average.generator
    live_mean = trainer.net.generator.project[1].running_mean.clone()
    trainer.evaluate()
    # What the first batch norm sees from the averaged weights, over the same draws as the refresh.
    draw = torch.Generator().manual_seed(EVAL_SEED + 1)
    inputs = []
    for _ in range(3):
        z = torch.randn(64, config.latent_dim, generator=draw)
        labels = torch.randint(0, config.classes, (64,), generator=draw)
        inputs.append(torch.cat([z, average.label(labels)], dim=1))
    with torch.no_grad():
        expected = average.project[0](torch.cat(inputs)).mean(dim=0)
    norm = average.project[1]
    assert torch.allclose(norm.running_mean, expected, atol=1e-5)
    assert not torch.allclose(norm.running_mean, live_mean, atol=1e-5)
    assert norm.momentum == trainer.net.generator.project[1].momentum  # restored after the refresh
    assert torch.equal(trainer.export_state()["generator.project.1.running_mean"], norm.running_mean)


def test_the_discriminator_sees_each_image_shifted_on_its_own(digits: DigitData, ml_cache: Path) -> None:
    config = GanConfig.tiny().replace(augment_shift=1)
    trainer = _GanTrainer(0, config, digits, ml_cache, epochs=1)
    images = (torch.rand(64, 1, 8, 8) * 2 - 1).requires_grad_(True)

    seen = trainer._augment(images)

    padded = torch.nn.functional.pad(images.detach(), (1, 1, 1, 1), value=-1.0)
    shifts = set()
    for image, shown in zip(padded, seen.detach(), strict=True):
        matches = [
            (dy, dx) for dy in range(3) for dx in range(3) if torch.equal(image[0, dy : dy + 8, dx : dx + 8], shown[0])
        ]
        assert matches, "every image is its own crop of the padded batch"
        shifts.add(matches[0])
    assert len(shifts) > 3  # drawn per image, not one shift for the batch
    seen.sum().backward()  # the generator learns through the shift
    assert images.grad is not None and images.grad.abs().sum() > 0
    trainer.config = config.replace(augment_shift=0)
    assert trainer._augment(images) is images


def test_the_discriminator_sees_how_much_each_group_of_images_differs() -> None:
    from generation.ml.nets.gan import BatchStd

    layer = BatchStd(2)
    h = torch.randn(6, 3, 2, 2)
    out = layer(h)
    assert out.shape == (6, 4, 2, 2) and torch.equal(out[:, :3], h)
    # Groups of 2 spread over the batch: images (0, 3), (1, 4), (2, 5).
    h[3] = h[0]
    out = layer(h)
    assert float(out[0, 3].max()) < 1e-3 and float(out[3, 3].max()) < 1e-3
    assert float(out[1, 3].min()) > 0.1 and torch.equal(out[1, 3], out[4, 3])
    # A batch that does not divide into groups is one group; one image alone has no spread.
    assert layer(torch.randn(5, 3, 2, 2)).shape == (5, 4, 2, 2)
    assert float(layer(torch.randn(1, 3, 2, 2))[0, 3].max()) < 1e-3
    # In the discriminator, image 0 scores differently in a varied batch than among copies of itself, and among
    # copies of itself as it does alone (no spread in either).
    torch.manual_seed(0)
    net = ConditionalGan(GanConfig.tiny().replace(d_batch_std=4)).eval()
    labels = torch.zeros(4, dtype=torch.long)
    varied = torch.rand(4, 1, 8, 8) * 2 - 1
    same = varied[:1].expand(4, 1, 8, 8).clone()
    with torch.inference_mode():
        among_copies = net.discriminator(same, labels)[0]
        assert among_copies != net.discriminator(varied, labels)[0]
        assert torch.allclose(among_copies, net.discriminator(varied[:1], labels[:1])[0], atol=1e-5)


def test_the_class_steers_every_batch_norm_of_the_generator() -> None:
    from generation.ml.nets.gan import ClassBatchNorm2d

    torch.manual_seed(0)
    net = ConditionalGan(GanConfig.tiny().replace(g_class_norm=True, g_convs=1))
    norms = [m for m in net.generator.body if isinstance(m, ClassBatchNorm2d)]
    assert len(norms) == 3 and not any(isinstance(m, torch.nn.BatchNorm2d) for m in net.generator.body)
    for norm in norms:  # starts as plain batch norm: gain about 1, bias 0
        assert torch.allclose(norm.gain.weight, torch.ones_like(norm.gain.weight), atol=0.1)
        assert torch.equal(norm.bias.weight, torch.zeros_like(norm.bias.weight))
    # Each image is scaled and shifted by its own class's gain and bias after the batch's normalisation.
    norm = norms[0]
    with torch.no_grad():
        norm.bias.weight[3] = 5.0
    h = torch.randn(4, norm.norm.num_features, 2, 2)
    out = norm(h, torch.tensor([3, 0, 0, 0]))
    normalised = torch.nn.functional.batch_norm(h, None, None, training=True)
    assert torch.allclose(out[0], normalised[0] * norm.gain.weight[3][:, None, None] + 5.0, atol=1e-5)
    assert torch.allclose(out[1], normalised[1] * norm.gain.weight[0][:, None, None], atol=1e-5)


def test_the_r1_penalty_is_the_squared_gradient_at_the_real_images(digits: DigitData, ml_cache: Path) -> None:
    config = GanConfig.tiny().replace(r1_gamma=0.5, r1_every=4)
    trainer = _GanTrainer(0, config, digits, ml_cache, epochs=1)
    images = torch.rand(3, 1, 8, 8).requires_grad_(True)
    scores = (images.square() * 1.5).sum(dim=(1, 2, 3))  # gradient 3 x pixel
    penalty = trainer._r1_penalty(scores, images)
    expected = (3 * images.detach()).square().sum(dim=(1, 2, 3)).mean() * 0.5 / 2 * 4
    assert torch.allclose(penalty, expected)
    penalty.backward()  # the discriminator learns through its own gradient
    assert images.grad is not None and images.grad.abs().sum() > 0


def test_the_r1_penalty_is_paid_every_r1_every_steps(digits: DigitData, ml_cache: Path) -> None:
    trainer = _GanTrainer(0, GanConfig.tiny().replace(r1_gamma=1.0, r1_every=3), digits, ml_cache, epochs=1)
    paid_at: list[int] = []
    penalty = trainer._r1_penalty

    def recording(d_real: torch.Tensor, seen_real: torch.Tensor) -> torch.Tensor:
        paid_at.append(trainer.step)
        assert seen_real.requires_grad and d_real.shape == (len(seen_real),)
        return penalty(d_real, seen_real)

    trainer._r1_penalty = recording  # type: ignore[method-assign]
    _, steps = trainer.train_epoch(1, _Clock(None, None))
    assert steps > 3 and paid_at == list(range(0, steps, 3))
    trainer.config = trainer.config.replace(r1_gamma=0.0)
    paid_at.clear()
    trainer.train_epoch(2, _Clock(None, None))
    assert paid_at == []


def test_the_latent_scale_scales_the_noise_when_sampling() -> None:
    torch.manual_seed(0)
    net = ConditionalGan(GanConfig.tiny()).eval()
    z, labels = torch.randn(4, 16), torch.tensor([0, 1, 2, 3])
    with torch.inference_mode():
        assert torch.equal(net.generate(z, labels), net.generator(z, labels))
        wider = ConditionalGan(net.config.replace(latent_scale=1.5)).eval()
        wider.load_state_dict(net.state_dict())
        assert torch.equal(wider.generate(z, labels), net.generator(z * 1.5, labels))
        assert not torch.equal(wider.generate(z, labels), net.generate(z, labels))


def test_latent_scale_candidates_reach_the_search_both_ways(digits: DigitData, ml_cache: Path) -> None:
    trainer = _GanTrainer(0, GanConfig.tiny(), digits, ml_cache, epochs=1)
    cases = [((0.1, 0.05), [0.9, 0.95, 1.0, 1.05, 1.1]), ((0.1, 0.03), [0.91, 0.94, 0.97, 1.0, 1.03, 1.06, 1.09])]
    for (search, step), expected in [*cases, ((0.0, 0.05), [1.0])]:
        trainer.config = GanConfig.tiny().replace(latent_scale_search=search, latent_scale_step=step)
        assert trainer.latent_scale_candidates() == expected
    # Around a scale set by hand, and never 0 or below.
    trainer.config = GanConfig.tiny().replace(latent_scale=1.2, latent_scale_search=0.1, latent_scale_step=0.1)
    assert trainer.latent_scale_candidates() == [1.1, 1.2, 1.3]
    trainer.config = GanConfig.tiny().replace(latent_scale=0.1, latent_scale_search=0.2, latent_scale_step=0.1)
    assert trainer.latent_scale_candidates() == [0.1, 0.2, 0.3]


def test_training_writes_the_latent_scale_that_fits_the_training_digits_best(digits: DigitData, ml_cache: Path) -> None:
    config = GanConfig.tiny().replace(latent_scale_search=0.4, latent_scale_step=0.2, latent_scale_draws=2)
    result = train("gan", seed=5, epochs=2, config=config.to_dict(), data=digits, cache_dir=ml_cache, threads=1)
    loaded = checkpoint_loads(result.checkpoint, expected_sha256=result.checkpoint_sha256)
    means = loaded.extra["latent_scale_fids"]
    assert sorted(means, key=float) == ["0.6", "0.8", "1", "1.2", "1.4"]
    assert len(set(means.values())) == 5  # each scale measured on its own images
    chosen = loaded.extra["latent_scale"]
    assert means[f"{chosen:g}"] == min(means.values())
    assert loaded.net.config.latent_scale == chosen == result.hyperparameters["latent_scale"]  # type: ignore[union-attr]
    # The run's best metric is still its best epoch's, measured at z's own scale like every run's.
    assert result.best_metric == min(e.metrics["fid"] for e in result.epochs)

    plain = train(
        "gan",
        seed=5,
        epochs=2,
        config=config.replace(latent_scale_search=0.0).to_dict(),
        data=digits,
        cache_dir=ml_cache,
        threads=1,
    )
    loaded_plain = checkpoint_loads(plain.checkpoint, expected_sha256=plain.checkpoint_sha256)
    assert loaded_plain.net.config.latent_scale == 1.0 and "latent_scale_fids" not in loaded_plain.extra  # type: ignore[union-attr]
    assert plain.best_metric == result.best_metric  # the search comes after training and changes nothing in it

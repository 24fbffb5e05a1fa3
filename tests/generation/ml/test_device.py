"""The torch device: resolving the configured name, checkpoints that load on any device, sampling reproducible for a
seed through the device path, and the CPU-against-CUDA comparison run with the CPU on both sides."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from generation.ml import checkpoints
from generation.ml.checkpoints import checkpoint_dumps, checkpoint_loads, checkpoint_sha256
from generation.ml.data import DigitData, LabelledTexts, TextCorpus
from generation.ml.device import (
    DEVICE_CHOICES,
    SAMPLING_TOLERANCE,
    DeviceError,
    device_resolve,
    main,
    module_device,
    seeded_randn,
)
from generation.ml.device_check import DeviceComparison, device_compare, sample_floats, sampling_difference
from generation.ml.nets.attention import CharTransformer, LmConfig, char_vocab
from generation.ml.nets.gan import ConditionalGan, GanConfig
from generation.ml.nets.textclf import TextClassifierConfig
from generation.ml.nets.vae import ConvVae, VaeConfig
from generation.ml.sampling import gan_sample, lm_sample, vae_interpolate, vae_sample


@pytest.fixture
def no_cuda(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)


@pytest.fixture
def tf32_flags_restored() -> Iterator[None]:
    before = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    yield
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = before


def test_auto_is_the_cpu_without_cuda(no_cuda: None) -> None:
    assert device_resolve("auto") == torch.device("cpu")


def test_auto_is_cuda_when_torch_finds_a_gpu(monkeypatch: pytest.MonkeyPatch, tf32_flags_restored: None) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    torch.backends.cudnn.allow_tf32 = True

    assert device_resolve("auto") == torch.device("cuda")
    # Full float32 on CUDA, so its samples stay within the tolerance of the CPU's.
    assert torch.backends.cudnn.allow_tf32 is False and torch.backends.cuda.matmul.allow_tf32 is False


def test_cpu_is_the_cpu_whatever_the_spelling() -> None:
    assert device_resolve("cpu") == torch.device("cpu")
    assert device_resolve(" CPU ") == torch.device("cpu")


@pytest.mark.parametrize("value", ["gpu", "cuda:0", "", "mps"])
def test_an_unknown_device_is_refused_naming_the_setting_and_the_choices(value: str) -> None:
    with pytest.raises(DeviceError) as caught:
        device_resolve(value, setting="GENAI_TORCH_DEVICE")

    message = str(caught.value)
    assert "GENAI_TORCH_DEVICE" in message and repr(value) in message
    assert all(choice in message for choice in DEVICE_CHOICES)


def test_cuda_without_a_gpu_is_refused_naming_the_setting(no_cuda: None) -> None:
    with pytest.raises(DeviceError) as caught:
        device_resolve("cuda", setting="GENAI_TORCH_DEVICE")

    message = str(caught.value)
    assert "GENAI_TORCH_DEVICE is 'cuda'" in message
    assert "torch.cuda.is_available() is False" in message
    assert "'auto' or 'cpu'" in message


def test_the_command_line_prints_the_device_or_the_reason(no_cuda: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["auto"]) == 0
    assert capsys.readouterr().out == "cpu\n"

    assert main(["cuda", "GENAI_TORCH_DEVICE"]) == 2
    assert "GENAI_TORCH_DEVICE is 'cuda'" in capsys.readouterr().err


def test_noise_is_drawn_on_the_cpu_then_moved() -> None:
    drawn = seeded_randn((3, 4), generator=torch.Generator().manual_seed(7), device="cpu")

    assert torch.equal(drawn, torch.randn(3, 4, generator=torch.Generator().manual_seed(7)))
    # The meta device holds no values, but the draw lands there: the noise follows the device it is asked for.
    assert seeded_randn((2,), generator=None, device="meta").device.type == "meta"


def _gan() -> ConditionalGan:
    torch.manual_seed(0)
    return ConditionalGan(GanConfig.tiny())


def test_a_checkpoint_is_saved_from_cpu_tensors_and_loaded_with_map_location(monkeypatch: pytest.MonkeyPatch) -> None:
    net = _gan()
    blob = checkpoint_dumps(kind="gan", config=net.config.to_dict(), state=net.state_dict(), extra={})
    sha = checkpoint_sha256(blob)
    stored = torch.load(io.BytesIO(blob), weights_only=True)  # no map_location: as saved
    assert all(tensor.device.type == "cpu" for tensor in stored["state"].values())

    locations: list[Any] = []
    real_load = torch.load

    def recording_load(*args: Any, **kwargs: Any) -> Any:
        locations.append(kwargs.get("map_location"))
        return real_load(*args, **kwargs)

    monkeypatch.setattr(checkpoints.torch, "load", recording_load)
    on_cpu = checkpoint_loads(blob, expected_sha256=sha, device=device_resolve("cpu"))
    # Another device than the one it was saved on: the meta device stands in for a GPU here.
    elsewhere = checkpoint_loads(blob, expected_sha256=sha, device="meta")

    assert locations == [torch.device("cpu"), torch.device("meta")]
    assert module_device(on_cpu.net) == torch.device("cpu")
    assert {t.device.type for t in elsewhere.net.state_dict().values()} == {"meta"}
    for name, tensor in net.state_dict().items():
        assert torch.equal(on_cpu.net.state_dict()[name], tensor), name


def _through_a_checkpoint(net: torch.nn.Module, kind: str) -> torch.nn.Module:
    config = net.config.to_dict()  # type: ignore[operator]
    blob = checkpoint_dumps(kind=kind, config=config, state=net.state_dict(), extra={})
    return checkpoint_loads(blob, expected_sha256=checkpoint_sha256(blob), device=device_resolve("auto")).net


def test_sampling_a_seed_through_the_device_path_gives_the_same_output_twice(no_cuda: None) -> None:
    gan = _through_a_checkpoint(_gan(), "gan")
    torch.manual_seed(1)
    vae = _through_a_checkpoint(ConvVae(VaeConfig.tiny()), "vae")
    torch.manual_seed(2)
    lm = _through_a_checkpoint(CharTransformer(LmConfig.tiny(vocab=char_vocab("春风明月小楼东风细雨\n"))), "lm")
    assert isinstance(gan, ConditionalGan) and isinstance(vae, ConvVae) and isinstance(lm, CharTransformer)

    for draw in (
        lambda seed: gan_sample(gan, digit=3, count=4, seed=seed),
        lambda seed: vae_sample(vae, count=4, seed=seed),
        lambda seed: vae_interpolate(vae, seed_a=seed, seed_b=seed + 1, steps=3),
    ):
        first, again, other = draw(5), draw(5), draw(6)
        assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
        assert not all(np.array_equal(a, b) for a, b in zip(first, other, strict=True))
    texts = [lm_sample(lm, prompt="春", max_chars=20, temperature=1.0, top_k=None, seed=s) for s in (5, 5)]
    assert texts[0] == texts[1] and len(texts[0]) > 1
    assert torch.equal(sample_floats(gan, seed=5), sample_floats(gan, seed=5))


def test_sampling_difference_is_zero_for_one_device_twice_and_positive_for_other_weights() -> None:
    net = _gan()
    blob = checkpoint_dumps(kind="gan", config=net.config.to_dict(), state=net.state_dict(), extra={})

    assert sampling_difference(blob, checkpoint_sha256(blob), seed=3, devices=("cpu", "cpu")) == 0.0
    # The measure is not blind: the same seed through two different nets differs by far more than the tolerance.
    other = ConditionalGan(GanConfig.tiny())
    assert float((sample_floats(net, seed=3) - sample_floats(other, seed=3)).abs().max()) > SAMPLING_TOLERANCE


def test_a_comparison_over_the_tolerance_says_so() -> None:
    within = DeviceComparison(kind="vae", devices=("cpu", "cuda"), seconds=(10.0, 2.0), max_abs_diff=5e-5)
    over = DeviceComparison(kind="vae", devices=("cpu", "cuda"), seconds=(10.0, 2.0), max_abs_diff=3e-4)

    assert within.within_tolerance and within.speed_up == 5.0 and "x5.00" in within.line()
    assert not over.within_tolerance and "OVER TOLERANCE" in over.line()


@pytest.fixture(scope="module")
def few_texts() -> LabelledTexts:
    safe = ["今天天气很好", "我们一起去公园", "这本书写得不错", "谢谢你的帮助", "明天见"]
    rude = ["你这个笨蛋", "滚开别烦我", "真是个蠢货", "闭嘴吧废物", "你算什么东西"]
    texts = tuple(t + str(n) for n in range(6) for t in safe + rude)
    labels = tuple(([0] * len(safe) + [1] * len(rude)) * 6)
    return LabelledTexts(
        fingerprint="1" * 64,
        name="few texts",
        source="made up by the test",
        licence="none",
        texts=texts,
        labels=labels,
        topics=("none",) * len(texts),
    )


@pytest.mark.parametrize("kind", ["gan", "vae", "lm", "classifier"])
def test_the_device_comparison_runs_with_the_cpu_on_both_sides(
    kind: str,
    digits: DigitData,
    tiny_corpus: TextCorpus,
    few_texts: LabelledTexts,
    ml_cache: Path,
) -> None:
    data: Any = {"gan": digits, "vae": digits, "lm": tiny_corpus, "classifier": few_texts}[kind]
    config: dict[str, Any] = {
        "gan": GanConfig.tiny().to_dict() | {"latent_scale_search": 0.0},
        "vae": VaeConfig.tiny().to_dict(),
        "lm": LmConfig.tiny().to_dict() | {"steps_per_epoch": 5},
        "classifier": TextClassifierConfig.tiny().to_dict(),
    }[kind]

    comparison = device_compare(
        kind,  # type: ignore[arg-type]
        devices=("cpu", "cpu"),
        data=data,
        config=config,
        epochs=1,
        seed=0,
        threads=1,
        cache_dir=ml_cache,
    )

    assert comparison.kind == kind and comparison.devices == ("cpu", "cpu")
    assert comparison.max_abs_diff == 0.0 and comparison.within_tolerance
    assert comparison.tolerance == SAMPLING_TOLERANCE == 1e-4
    assert all(seconds > 0 for seconds in comparison.seconds)
    assert f"{kind} " in comparison.line() and "ok" in comparison.line()


def test_a_training_run_records_its_device(digits: DigitData) -> None:
    from generation.ml.training import train

    result = train("vae", seed=0, epochs=1, config=VaeConfig.tiny().to_dict(), data=digits, device="cpu")

    assert result.hyperparameters["device"] == "cpu"
    loaded = checkpoint_loads(result.checkpoint, expected_sha256=result.checkpoint_sha256, device="cpu")
    assert module_device(loaded.net) == torch.device("cpu")

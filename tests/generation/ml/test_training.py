"""Short real training runs of each net on tiny data: reports, best-epoch checkpoint, determinism, stopping."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from generation.ml.checkpoints import checkpoint_loads
from generation.ml.data import DigitData, TextCorpus
from generation.ml.nets.attention import LmConfig
from generation.ml.nets.gan import GanConfig
from generation.ml.nets.vae import VaeConfig
from generation.ml.training import EpochReport, train

PNG = b"\x89PNG\r\n\x1a\n"
BASE_DIR = Path(__file__).resolve().parents[3]


def _check_best(result, metric: str) -> None:  # type: ignore[no-untyped-def]
    values = [r.metrics[metric] for r in result.epochs]
    assert result.metric_name == metric
    assert result.best_metric == min(values)
    assert result.epochs[result.best_epoch - 1].metrics[metric] == result.best_metric
    loaded = checkpoint_loads(result.checkpoint, expected_sha256=result.checkpoint_sha256)
    assert loaded.extra["epoch"] == result.best_epoch
    assert loaded.extra["dataset_fingerprints"] == result.dataset_fingerprints


def test_gan_trains_and_keeps_the_best_epoch(digits: DigitData, ml_cache: Path) -> None:
    seen: list[EpochReport] = []
    result = train(
        "gan",
        seed=1,
        epochs=3,
        config=GanConfig.tiny().to_dict(),
        data=digits,
        on_epoch=seen.append,
        cache_dir=ml_cache,
        threads=1,
    )
    assert [r.epoch for r in seen] == [1, 2, 3] and result.epochs == seen
    for report in seen:
        assert set(report.losses) == {"d", "g"} and all(math.isfinite(v) for v in report.losses.values())
        assert 0.0 <= report.metrics["conditional_accuracy"] <= 1.0
        assert report.sample_png is not None and report.sample_png.startswith(PNG)
    _check_best(result, "fid")
    assert result.dataset_fingerprints == [digits.fingerprint] and result.dataset_names == [digits.name]
    assert result.torch_version == torch.__version__
    assert result.hyperparameters["seed"] == 1 and result.hyperparameters["epochs"] == 3
    assert result.hyperparameters["threads"] == 1


def test_threads_are_restored(digits: DigitData) -> None:
    before = torch.get_num_threads()
    train("vae", seed=0, epochs=1, config=VaeConfig.tiny().to_dict(), data=digits, threads=1)
    assert torch.get_num_threads() == before


def test_vae_trains_and_improves(digits: DigitData) -> None:
    result = train("vae", seed=2, epochs=4, config=VaeConfig.tiny().to_dict(), data=digits)
    _check_best(result, "validation_nats")
    nats = [r.metrics["validation_nats"] for r in result.epochs]
    assert nats[-1] < nats[0] and 0 < result.best_metric < 64 * math.log(2)
    assert result.epochs[0].sample_png is not None and result.epochs[0].sample_png.startswith(PNG)


def test_lm_trains_and_beats_the_unigram(tiny_corpus: TextCorpus) -> None:
    config = LmConfig.tiny().to_dict() | {"steps_per_epoch": 40}
    result = train("lm", seed=3, epochs=3, config=config, data=tiny_corpus)
    _check_best(result, "nats_per_char")
    last = result.epochs[-1].metrics
    assert last["nats_per_char"] < last["unigram_nats_per_char"]
    assert result.epochs[-1].sample_text is not None and result.epochs[-1].sample_png is None
    assert result.hyperparameters["vocab_size"] > 10 and result.hyperparameters["steps"] == 120


def test_same_seed_same_checkpoint(digits: DigitData) -> None:
    runs = [train("vae", seed=5, epochs=2, config=VaeConfig.tiny().to_dict(), data=digits) for _ in range(2)]
    assert runs[0].checkpoint_sha256 == runs[1].checkpoint_sha256
    other = train("vae", seed=6, epochs=2, config=VaeConfig.tiny().to_dict(), data=digits)
    assert other.checkpoint_sha256 != runs[0].checkpoint_sha256


def test_stop_request_ends_the_run_with_a_checkpoint(tiny_corpus: TextCorpus) -> None:
    config = LmConfig.tiny().to_dict() | {"steps_per_epoch": 100000}
    result = train("lm", seed=0, epochs=50, config=config, data=tiny_corpus, should_stop=lambda: True)
    assert result.stopped_by == "request" and len(result.epochs) == 1 and result.epochs[0].partial
    assert result.checkpoint and result.best_epoch == 1


def test_minutes_budget_is_kept(digits: DigitData) -> None:
    result = train("vae", seed=0, minutes=0.02, config=VaeConfig.tiny().to_dict(), data=digits)
    assert result.stopped_by == "minutes" and result.seconds < 10


def test_a_budget_that_ends_inside_an_epoch_marks_it_partial(digits: DigitData) -> None:
    # 30 ms of training: a fraction of one epoch of the tiny VAE (about 150 ms on these machines).
    result = train("vae", seed=0, minutes=0.0005, config=VaeConfig.tiny().to_dict(), data=digits)
    assert result.stopped_by == "minutes"
    assert len(result.epochs) == 1 and result.epochs[0].partial and result.checkpoint


def test_wrong_inputs_are_refused(digits: DigitData, tiny_corpus: TextCorpus) -> None:
    with pytest.raises(ValueError, match="Unknown net kind"):
        train("rnn", seed=0, epochs=1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="trains on text"):
        train("lm", seed=0, epochs=1, data=digits)
    with pytest.raises(ValueError, match="digit images"):
        train("gan", seed=0, epochs=1, data=tiny_corpus)
    with pytest.raises(ValueError, match="Unknown VaeConfig setting"):
        train("vae", seed=0, epochs=1, data=digits, config={"learning_rate": 1})
    with pytest.raises(ValueError, match="epochs"):
        train("vae", seed=0, epochs=0, data=digits)


@pytest.mark.parametrize("kind", ["gan", "lm"])
def test_same_seed_same_checkpoint_gan_and_lm(
    kind: str, digits: DigitData, tiny_corpus: TextCorpus, ml_cache: Path
) -> None:
    config = GanConfig.tiny().to_dict() if kind == "gan" else LmConfig.tiny().to_dict()
    data = digits if kind == "gan" else tiny_corpus
    runs = [
        train(kind, seed=9, epochs=2, config=config, data=data, cache_dir=ml_cache)  # type: ignore[arg-type]
        for _ in range(2)
    ]
    assert runs[0].checkpoint_sha256 == runs[1].checkpoint_sha256
    assert [r.metrics for r in runs[0].epochs] == [r.metrics for r in runs[1].epochs]


def test_the_torch_code_does_not_import_django() -> None:
    code = (
        "import sys\n"
        "import generation.ml.training, generation.ml.sampling, generation.ml.metrics, generation.ml.checkpoints\n"
        "assert not [m for m in sys.modules if m == 'django' or m.startswith('django.')], 'django imported'\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    done = subprocess.run([sys.executable, "-c", code], cwd=BASE_DIR, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_cpu_clock_budget(digits: DigitData) -> None:
    result = train("vae", seed=0, minutes=0.01, config=VaeConfig.tiny().to_dict(), data=digits, budget_clock="cpu")
    assert result.stopped_by == "minutes" and result.hyperparameters["budget_clock"] == "cpu"
    with pytest.raises(ValueError, match="budget clock"):
        train("vae", seed=0, epochs=1, data=digits, budget_clock="sundial")  # type: ignore[arg-type]


def test_lm_trains_with_bfloat16_autocast(tiny_corpus: TextCorpus) -> None:
    config = LmConfig.tiny().to_dict() | {"steps_per_epoch": 40, "autocast_bf16": True}
    result = train("lm", seed=3, epochs=2, config=config, data=tiny_corpus)
    last = result.epochs[-1].metrics
    assert math.isfinite(last["nats_per_char"]) and last["nats_per_char"] < last["unigram_nats_per_char"]
    loaded = checkpoint_loads(result.checkpoint, expected_sha256=result.checkpoint_sha256)
    assert all(t.dtype == torch.float32 for t in loaded.net.state_dict().values() if t.is_floating_point())

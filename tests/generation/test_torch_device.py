"""GENAI_TORCH_DEVICE: checked when the settings load, checked for CUDA before a worker forks, and used by the
worker's nets and training runs."""

from __future__ import annotations

import subprocess

import pytest
import torch
from django.conf import settings
from django.test import override_settings

from generation.ml.device import DEVICE_CHOICES, DeviceError, module_device
from generation.models import TrainingRun
from generation.services import net_load
from generation.torch_device import TorchDeviceUnavailable, torch_device, torch_device_require
from generation.training_runs import training_run_create, training_run_execute
from tests.generation.factories import checkpoint_tiny

needs_no_gpu = pytest.mark.skipif(torch.cuda.is_available(), reason="checks what happens on a machine without CUDA")


def test_the_setting_defaults_to_auto_and_knows_the_same_names_as_torch_code() -> None:
    assert settings.GENAI_TORCH_DEVICE == "auto"
    assert settings.GENAI_TORCH_DEVICE_CHOICES == DEVICE_CHOICES


@pytest.mark.parametrize("value", ["gpu", "cuda:1"])
def test_a_bad_value_stops_the_process_at_start_with_one_line_naming_the_setting(python, embedded_env, value) -> None:  # type: ignore[no-untyped-def]
    result = subprocess.run(
        [python, "manage.py", "check"],
        env=embedded_env | {"GENAI_TORCH_DEVICE": value},
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "GENAI_TORCH_DEVICE must be one of auto, cpu, cuda" in lines[0] and repr(value) in lines[0]


def test_an_upper_case_value_is_accepted(python, embedded_env) -> None:  # type: ignore[no-untyped-def]
    result = subprocess.run(
        [python, "manage.py", "shell", "-c", "from django.conf import settings; print(settings.GENAI_TORCH_DEVICE)"],
        env=embedded_env | {"GENAI_TORCH_DEVICE": "CPU"},
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "cpu"


@override_settings(GENAI_TORCH_DEVICE="cpu")
def test_the_process_device_follows_the_setting() -> None:
    assert torch_device() == torch.device("cpu")


@needs_no_gpu
@override_settings(GENAI_TORCH_DEVICE="auto")
def test_auto_is_the_cpu_on_this_machine() -> None:
    assert torch_device() == torch.device("cpu")


@needs_no_gpu
@override_settings(GENAI_TORCH_DEVICE="cuda")
def test_cuda_without_a_gpu_is_refused_naming_the_setting() -> None:
    with pytest.raises(DeviceError, match="GENAI_TORCH_DEVICE is 'cuda'"):
        torch_device()


@needs_no_gpu
@override_settings(GENAI_TORCH_DEVICE="cuda")
def test_a_worker_for_cuda_refuses_to_start_without_a_gpu(capsys: pytest.CaptureFixture[str]) -> None:
    from generation.tasks import _torch_device_required

    with pytest.raises(TorchDeviceUnavailable, match="GENAI_TORCH_DEVICE is 'cuda'.*is_available\\(\\) is False"):
        torch_device_require()
    with pytest.raises(SystemExit) as stopped:
        _torch_device_required()

    assert stopped.value.code == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and error[0].startswith("genai-platform: configuration error: GENAI_TORCH_DEVICE is 'cuda'")


@pytest.mark.parametrize("value", ["auto", "cpu"])
def test_auto_and_cpu_start_a_worker_without_asking_torch(value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_subprocess(*args: object, **kwargs: object) -> None:
        raise AssertionError("no process should be started to check the device")

    monkeypatch.setattr(subprocess, "run", no_subprocess)
    with override_settings(GENAI_TORCH_DEVICE=value):
        torch_device_require()


@pytest.mark.django_db
@override_settings(GENAI_TORCH_DEVICE="cpu")
def test_a_worker_loads_its_nets_onto_the_configured_device() -> None:
    loaded = net_load(checkpoint_tiny("vae", seed=11))

    assert module_device(loaded.net) == torch.device("cpu")


@needs_no_gpu
@pytest.mark.django_db
@override_settings(GENAI_TORCH_DEVICE="cuda")
def test_a_training_run_on_an_absent_gpu_fails_with_the_reason() -> None:
    run = training_run_create(kind="vae", epochs=1, enqueue=False)

    run = training_run_execute(run_id=run.pk, worker="test")

    assert run is not None and run.status == TrainingRun.Status.FAILED
    assert "GENAI_TORCH_DEVICE is 'cuda'" in run.error
    assert not run.checkpoints.exists()

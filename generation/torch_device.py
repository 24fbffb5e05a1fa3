"""The torch device of this process, from ``settings.GENAI_TORCH_DEVICE`` (auto, cpu or cuda).

Torch is imported only when a device is asked for, in the processes that run torch (workers, ``manage.py train``).
``torch_device_require`` runs in a worker's parent process before it forks its children: it asks a short-lived
Python process whether CUDA is there, so the parent neither imports torch nor initialises CUDA.
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any

from django.conf import settings

SETTING = "GENAI_TORCH_DEVICE"
# Importing torch and asking for CUDA takes a few seconds on a cold disk.
_CHECK_TIMEOUT_SECONDS = 120


class TorchDeviceUnavailable(RuntimeError):  # noqa: N818 (the name says what is wrong)
    """The configured device is not present on this machine."""


def torch_device() -> Any:
    """The ``torch.device`` training and sampling use here; raises ``generation.ml.device.DeviceError`` (naming the
    setting) when it cannot be used. (Typed Any: torch is imported only inside ``generation.ml``.)"""
    from generation.ml.device import device_resolve

    return device_resolve(settings.GENAI_TORCH_DEVICE, setting=SETTING)


def torch_device_require() -> None:
    """Refuse to start a worker configured for CUDA on a machine where torch finds none.

    ``auto`` and ``cpu`` always resolve, so only ``cuda`` is checked.
    """
    if settings.GENAI_TORCH_DEVICE != "cuda":
        return
    result = subprocess.run(
        [sys.executable, "-m", "generation.ml.device", settings.GENAI_TORCH_DEVICE, SETTING],
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=_CHECK_TIMEOUT_SECONDS,
        check=False,
    )
    if result.returncode != 0:
        reason = result.stderr.strip().splitlines()[-1] if result.stderr.strip() else f"exit status {result.returncode}"
        raise TorchDeviceUnavailable(reason)

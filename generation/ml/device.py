"""Which device torch runs on: ``auto`` (CUDA when there is one, else the CPU), ``cpu`` or ``cuda``.

The caller passes the configured value as a plain string (the worker passes ``settings.GENAI_TORCH_DEVICE``) and
the name to quote in errors; nothing here reads configuration itself.

Random numbers are always drawn from a CPU ``torch.Generator`` and then moved to the device (``seeded_randn``), so
a seed draws the same noise on every device. The nets then compute in float32 on either device, and their
results agree within ``SAMPLING_TOLERANCE``: sampling the same seed on CUDA and on the CPU gives images whose
pixel values (before rounding to 0-255) differ by at most 1e-4 (largest absolute difference, float32; CUDA is kept
to full float32, without TensorFloat-32). ``benchmarks/cuda_check.py`` measures it on a machine with a GPU.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import torch
from torch import nn

DEVICE_CHOICES = ("auto", "cpu", "cuda")
# Largest absolute difference allowed between float32 samples of one seed drawn on two devices.
SAMPLING_TOLERANCE = 1e-4


class DeviceError(ValueError):
    """The configured device is not one this code knows, or is not present on this machine."""


def device_resolve(value: str, *, setting: str = "the torch device") -> torch.device:
    """The device ``value`` names: ``auto`` is CUDA when ``torch.cuda.is_available()``, else the CPU.

    Raises DeviceError, quoting ``setting``, for an unknown value or for ``cuda`` on a machine without CUDA.
    """
    choice = value.strip().lower() if isinstance(value, str) else value
    if choice not in DEVICE_CHOICES:
        raise DeviceError(f"{setting} must be one of {', '.join(DEVICE_CHOICES)}; got {value!r}.")
    if choice == "auto":
        choice = "cuda" if torch.cuda.is_available() else "cpu"
    elif choice == "cuda" and not torch.cuda.is_available():
        raise DeviceError(
            f"{setting} is 'cuda', but torch finds no CUDA device here (torch.cuda.is_available() is False; "
            f"torch {torch.__version__}, built for CUDA {torch.version.cuda or 'none'}). "
            f"Set {setting} to 'auto' or 'cpu', or install a CUDA build of torch and the GPU's driver."
        )
    if choice == "cuda":
        _full_float32()
    return torch.device(choice)


def _full_float32() -> None:
    """Keep CUDA's float32 arithmetic full float32: TensorFloat-32 (cuDNN's default for convolutions on recent
    GPUs) rounds inputs to 10 bits and would put the GAN's and the VAE's samples well outside SAMPLING_TOLERANCE."""
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False


def module_device(module: nn.Module) -> torch.device:
    """The device a net's weights are on (the CPU for a net without any)."""
    for parameter in module.parameters():
        return parameter.device
    for buffer in module.buffers():
        return buffer.device
    return torch.device("cpu")


def seeded_randn(
    shape: Sequence[int],
    *,
    generator: torch.Generator | None,
    device: torch.device | str,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """Standard normal noise drawn on the CPU (from ``generator``, or torch's global one) and moved to ``device``,
    so a seed gives the same noise on every device."""
    return torch.randn(tuple(shape), generator=generator, dtype=dtype).to(device)


def main(argv: Sequence[str]) -> int:
    """``python -m generation.ml.device VALUE [SETTING]``: print the device VALUE resolves to here, or the reason
    it cannot (exit status 2). Workers run it before they fork, so the parent never initialises CUDA."""
    if not 1 <= len(argv) <= 2:
        sys.stderr.write("usage: python -m generation.ml.device auto|cpu|cuda [SETTING_NAME]\n")
        return 2
    try:
        device = device_resolve(argv[0], setting=argv[1] if len(argv) == 2 else "the torch device")
    except DeviceError as exc:
        sys.stderr.write(f"{exc}\n")
        return 2
    sys.stdout.write(f"{device}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

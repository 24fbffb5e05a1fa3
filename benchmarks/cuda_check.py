"""CUDA against the CPU: each net trained briefly on both devices, sampled on both from one seed, and the speed-ups.

    python benchmarks/cuda_check.py                          # every net, one epoch on each device
    python benchmarks/cuda_check.py --kinds gan vae --epochs 2

For each net it prints the training seconds on the CPU and on CUDA (same seed, data, configuration and epochs) and
the speed-up, then loads the CPU run's checkpoint on both devices and samples it with one seed: the largest absolute
difference between the two devices' float32 samples must be within ``generation.ml.device.SAMPLING_TOLERANCE``
(1e-4). The work is ``generation.ml.device_check.device_compare``; the tests run it with the CPU on both sides.

On a machine without a GPU it prints one "skipped" line and exits 0. It exits 1 when a net's samples differ by
more than the tolerance. ``benchmarks/run.py cuda`` runs it with the other benchmarks (``bench_cuda.py``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

BASE_DIR = Path(__file__).resolve().parent.parent
if str(BASE_DIR) not in sys.path:
    sys.path.insert(0, str(BASE_DIR))

KINDS = ("gan", "vae", "lm", "classifier")
SKIPPED = "skipped: no CUDA device (torch.cuda.is_available() is False)"
# Configuration changes for a brief run: the GAN's search for its noise scale after training is measuring, not
# training, and is left out.
BRIEF_CONFIG: dict[str, dict[str, Any]] = {"gan": {"latent_scale_search": 0.0}}


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kinds", nargs="+", choices=KINDS, default=list(KINDS), help="nets to compare (default all)")
    parser.add_argument("--epochs", type=int, default=1, help="epochs on each device (default 1)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="torch threads of the CPU runs (default 1)")
    return parser.parse_args(argv)


def _data(kind: str) -> Any:
    from generation.ml.data import cold, mnist5k, songci

    if kind in ("gan", "vae"):
        return mnist5k()
    if kind == "lm":
        return songci()
    return cold("train")


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    import torch

    if not torch.cuda.is_available():
        print(SKIPPED, flush=True)
        return 0
    from generation.ml.device_check import device_compare

    print(f"torch {torch.__version__}, CUDA {torch.version.cuda}, {torch.cuda.get_device_name(0)}", flush=True)
    over = []
    for kind in args.kinds:
        try:
            data = _data(kind)
        except FileNotFoundError as exc:
            print(f"{kind:<10} skipped: its data are missing ({exc})", flush=True)
            continue
        comparison = device_compare(
            kind,
            devices=("cpu", "cuda"),
            data=data,
            config=BRIEF_CONFIG.get(kind),
            epochs=args.epochs,
            seed=args.seed,
            threads=args.threads,
        )
        print(comparison.line(), flush=True)
        if not comparison.within_tolerance:
            over.append(kind)
    if over:
        print(f"Samples on CUDA and the CPU differ by more than the tolerance: {', '.join(over)}.", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

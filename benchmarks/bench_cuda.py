"""``benchmarks/cuda_check.py`` among the benchmarks: CUDA against the CPU, or one "skipped" line without a GPU."""

from __future__ import annotations

import sys
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
if str(BASE_DIR) not in sys.path:
    sys.path.insert(0, str(BASE_DIR))

from benchmarks.cuda_check import main as cuda_check  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    code = cuda_check(argv)
    if code:
        sys.exit(code)


if __name__ == "__main__":
    main(sys.argv[1:])

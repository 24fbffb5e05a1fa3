"""Run the benchmarks: every ``benchmarks/bench_*.py`` module's ``main()``, or the ones named.

    python benchmarks/run.py                # all
    python benchmarks/run.py audit moderation

Each benchmark prints its figures as ratios against a baseline measured in the same run, so the
numbers compare across machines. Benchmarks use the database and broker of the environment
(``DATABASE_URL`` / ``REDIS_URL``), like the platform.
"""

from __future__ import annotations

import importlib
import inspect
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))


def available() -> list[str]:
    return sorted(p.stem.removeprefix("bench_") for p in HERE.glob("bench_*.py"))


def main(argv: list[str]) -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "genai_platform.settings.base")
    import django

    django.setup()
    names = argv or available()
    unknown = sorted(set(names) - set(available()))
    if unknown:
        print(f"Unknown benchmark(s): {', '.join(unknown)}. Available: {', '.join(available())}.", file=sys.stderr)
        return 2
    for name in names:
        print(f"\n=== {name} ===", flush=True)
        started = time.perf_counter()
        bench_main = importlib.import_module(f"benchmarks.bench_{name}").main
        if inspect.signature(bench_main).parameters:
            # A benchmark with options of its own takes them from the environment here, not from our argv.
            bench_main([])
        else:
            bench_main()
        print(f"({name}: {time.perf_counter() - started:.1f} s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

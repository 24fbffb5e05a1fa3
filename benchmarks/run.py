"""Run the benchmarks: every ``benchmarks/bench_*.py`` module's ``main()``, or the ones named.

    python benchmarks/run.py                # all
    python benchmarks/run.py audit moderation

Each benchmark prints its figures as ratios against a baseline measured in the same run, so the
numbers compare across machines. Each runs in a process of its own on a scratch platform made for it
(``benchmarks.scratch.ScratchPlatform``): on the server of ``DATABASE_URL`` a database copied from a
template migrated once for the run (on the embedded default a copied SQLite file), a data folder of its own,
and with ``REDIS_URL`` a flushed Redis database of its own number (``GENAI_BENCH_REDIS_DB``, 7). The configured
database, data folder and Redis database are never touched, and a benchmark refuses to run on anything but the
scratch database made for it.
"""

from __future__ import annotations

import importlib
import inspect
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))


def available() -> list[str]:
    return sorted(p.stem.removeprefix("bench_") for p in HERE.glob("bench_*.py"))


def _run_one(name: str) -> int:
    """In the benchmark's own process, on its scratch platform."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "genai_platform.settings.base")
    import django

    django.setup()
    from benchmarks.scratch import guard

    guard()
    bench_main = importlib.import_module(f"benchmarks.bench_{name}").main
    if inspect.signature(bench_main).parameters:
        # A benchmark with options of its own takes them from the environment here, not from our argv.
        bench_main([])
    else:
        bench_main()
    return 0


def main(argv: list[str]) -> int:
    if argv[:1] == ["--one"] and len(argv) == 2:
        return _run_one(argv[1])
    names = argv or available()
    unknown = sorted(set(names) - set(available()))
    if unknown:
        print(f"Unknown benchmark(s): {', '.join(unknown)}. Available: {', '.join(available())}.", file=sys.stderr)
        return 2
    from benchmarks.scratch import ScratchPlatform

    failed: list[str] = []
    with tempfile.TemporaryDirectory(prefix="genai-bench-") as folder:
        platform = ScratchPlatform(Path(folder), str(ROOT / "manage.py"))
        try:
            platform.prepare()
            for name in names:
                print(f"\n=== {name} ===", flush=True)
                started = time.perf_counter()
                env, drop = platform.for_benchmark(name)
                try:
                    code = subprocess.call([sys.executable, str(HERE / "run.py"), "--one", name], env=env, cwd=ROOT)
                finally:
                    drop()
                if code:
                    failed.append(name)
                print(f"({name}: {time.perf_counter() - started:.1f} s, exit code {code})", flush=True)
        finally:
            platform.drop()
    if failed:
        print(f"\nThese benchmarks failed: {', '.join(failed)}.", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

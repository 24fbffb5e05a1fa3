"""Filing records: what the change history costs, and how long a filing package takes to build.

Measured in one run, everything inside one transaction that is rolled back at the end (the
audit log is append-only, so nothing the benchmark writes may be committed):
- one ``save()`` of a filing record with its history record (a read of the stored row, the
  diff and one audit append) against the same ``save()`` of a model without history;
- ``QuerySet.update()`` of N filing rows (read before, update, read after, one audit append per
  row) against the same update with the history bypassed (``_base_manager``);
- building the filing package of a service with D datasets and K keywords, and its size.

Run: ``python benchmarks/run.py filing`` (or ``python benchmarks/bench_filing.py``).
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    import os

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "genai_platform.settings.base")
    import django

    django.setup()

SAVES = 300
UPDATE_ROWS = 300
DATASETS = 20
KEYWORDS = 10_000


class _Rollback(Exception):
    pass


def _timed(func, repeat: int) -> list[float]:  # type: ignore[no-untyped-def]
    times = []
    for i in range(repeat):
        started = time.perf_counter()
        func(i)
        times.append(time.perf_counter() - started)
    return times


def main() -> None:
    from benchmarks.scratch import guard

    guard()  # its records go into the database it runs on: only a scratch one
    from django.db import transaction

    from filing.models import Dataset, Keyword, ModelRecord, Provider, Risk, Service, ServiceTransition
    from filing.package import package_build
    from filing.safety.models import match_key
    from generation.models import TrainingRun

    try:
        with transaction.atomic():
            provider = Provider.objects.create(legal_name="基准测试公司", uscc="91440300708461136T")
            service = Service.objects.create(provider=provider, name="基准服务")
            record = ModelRecord.objects.create(service=service, name="bench", net_type="gan", code="BNCH")
            run = TrainingRun.objects.create(kind="gan", model_record=record, status="succeeded")
            datasets = [
                Dataset.objects.create(
                    name=f"bench {i}", sha256=f"{i:064x}", source="bench", source_type="open_source", origin="domestic"
                )
                for i in range(max(DATASETS, UPDATE_ROWS))
            ]
            run.datasets.add(*datasets[:DATASETS])
            target = datasets[0]

            def history_save(i: int) -> None:
                target.language_share = f"zh {i}%"
                target.save()

            plain = ServiceTransition.objects.create(service=service, from_status="draft", to_status="draft", actor="b")

            def plain_save(i: int) -> None:
                plain.note = f"note {i}"
                plain.save()

            with_history = _timed(history_save, SAVES)
            without = _timed(plain_save, SAVES)
            h, p = statistics.median(with_history), statistics.median(without)
            print(f"save(), median of {SAVES}: {h * 1e3:.2f} ms with history, {p * 1e3:.2f} ms without ({h / p:.1f}x)")

            ids = [d.pk for d in datasets[:UPDATE_ROWS]]
            started = time.perf_counter()
            Dataset.objects.filter(pk__in=ids).update(licence="bench licence")
            tracked = time.perf_counter() - started
            started = time.perf_counter()
            Dataset._base_manager.filter(pk__in=ids).update(licence="bench licence 2")
            bare = time.perf_counter() - started
            print(
                f"update() of {UPDATE_ROWS} rows: {tracked * 1e3:.0f} ms with history "
                f"({tracked / UPDATE_ROWS * 1e3:.2f} ms per row), {bare * 1e3:.1f} ms without"
            )

            risks = list(Risk.objects.order_by("position"))
            existing = Keyword.objects.count()
            Keyword.objects.bulk_create(
                [
                    Keyword(keyword=f"基准词{i}", key=match_key(f"基准词{i}"), risk=risks[i % len(risks)])
                    for i in range(max(0, KEYWORDS - existing))
                ],
                batch_size=2000,
            )
            started = time.perf_counter()
            data, manifest = package_build(service, with_pdf=False)
            built = time.perf_counter() - started
            print(
                f"package of {DATASETS} datasets and {Keyword.objects.count()} keywords: "
                f"{built:.2f} s, {len(data) / 1024:.0f} KiB, {len(manifest['files'])} files"
            )
            raise _Rollback
    except _Rollback:
        pass


if __name__ == "__main__":
    main()

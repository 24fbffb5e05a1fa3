"""Audit log page benchmark: the first page of a filtered and searched view, and the 30-day histogram, at scale.

    DATABASE_URL=postgres://... python benchmarks/bench_explorer.py [--rows 1000000] [--ten-million] [--runs 30]

PostgreSQL only (the search index is PostgreSQL's): in a scratch database ``<name>_explorerbench`` created next
to the configured one and dropped at the end; the configured database is never touched. Records are made by
the database itself (INSERT ... SELECT over generate_series), spread evenly over the last 30 days: 8% refusals,
whose payload gives one of 20 reasons in Chinese. The trigram index is built after the load, as a restore would.

Per size it prints the p50 / p95 of the first page (``audit.explorer.log_page``, as the page runs it) and of
the histogram (``audit.dashboard.log_histogram``, from the rollups when only the range filters), each with its
EXPLAIN (ANALYZE, BUFFERS) plan, for:

- refusals whose subject or payload mentions 暴力内容 over the last 30 days (filtered and searched);
- every record of the last 30 days (the page as it opens on "Last 30 days").

After each load the records are folded into the dashboard's rollups (``audit.services.rollups_fold``, timed), as
the periodic sealing task does. Then the dashboard over the last 30 days (``audit.dashboard.figures``: every
panel's figures, from the rollups and the partial quarter hours at the edges; then the whole page as an auditor gets
it, charts and tables included), with the EXPLAIN plans of its refusals queries. Of the records, 30% are outputs,
two to a job, with a latency.

Goals: at 10 million records the first page p95 <= 150 ms and at most 3x the 1 million figure; the histogram
p95 <= 300 ms; the whole dashboard p95 <= 1 s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

from benchmarks.scratch import django_setup, postgresql_scratch  # noqa: E402

FIRST_PAGE_GOAL_MS = 150.0
FIRST_PAGE_GROWTH_GOAL = 3.0
HISTOGRAM_GOAL_MS = 300.0
DASHBOARD_GOAL_MS = 1000.0
LOAD_CHUNK = 1_000_000

_REASONS = [
    "提示词含有暴力内容",
    "提示词涉及色情描写",
    "涉及政治敏感人物",
    "含有侮辱性语言",
    "宣扬恐怖主义",
    "涉及赌博信息",
    "含有毒品相关内容",
    "侵犯他人隐私",
    "传播虚假信息",
    "歧视性言论",
    "the prompt asks for violent content",
    "the prompt names a public figure",
    "spam and advertising",
    "self-harm content",
    "weapons instructions",
    "含有暴力内容的图片描述",
    "未成年人不宜内容",
    "侵犯知识产权",
    "诈骗信息",
    "其他违规内容",
]

_INSERT = """
INSERT INTO audit_logentry (seq, created_at, actor_id, actor_username, source_ip, source_port, user_agent,
    event_type, subject_kind, subject_id, subject_repr, filing_number, model_record, checkpoint_sha256,
    keyword_library_version, decision, risk_codes, produce_id, input_sha256, output_sha256, payload,
    record_hash, record_tag)
SELECT g,
    %(start)s::timestamptz + (g - %(offset)s) * %(step)s::interval,
    (g %% 5000)::text, 'user' || (g %% 5000), '10.0.0.' || (g %% 250), 40000 + g %% 1000, 'bench',
    CASE WHEN g %% 100 < 8 THEN 'generation.refused' WHEN g %% 100 < 38 THEN 'generation.succeeded'
         ELSE 'generation.requested' END,
    'generation.job', g::text, '作业 ' || g || ' job ' || g, 'F-0001', 'digits-gan v1', '', '3',
    CASE WHEN g %% 100 < 8 THEN 'refused' ELSE 'allowed' END,
    CASE WHEN g %% 100 < 8 THEN 'A.1.' || (g %% 7) ELSE '' END,
    'P' || g, '', '',
    CASE WHEN g %% 100 < 8
         THEN json_build_object('job_id', g::text, 'kind', 'lm', 'reason', (%(reasons)s::text[])[1 + (g / 100) %% 20],
                                'stage', 'input_moderation')::text
         WHEN g %% 100 < 38
         THEN json_build_object('job_id', (g / 2)::text, 'kind', 'gan', 'latency_ms', 400 + (g * 7919) %% 6000)::text
         ELSE json_build_object('job_id', g::text, 'kind', 'gan')::text END,
    md5(g::text) || md5(g::text), ''
FROM generate_series(%(first)s::bigint, %(last)s::bigint) AS g
"""


def _load(rows: int, loaded: int) -> int:
    """Grows the log to ``rows`` records spread over the 30 days before now; returns the count."""
    from datetime import timedelta

    from django.db import connection
    from django.utils import timezone

    span = timedelta(days=30)
    times = {"start": timezone.now() - span, "step": span / (rows - loaded), "offset": loaded + 1}
    started = time.perf_counter()
    with connection.cursor() as cursor:
        # Records so far keep their times: the new ones fill the same 30 days (dates need not follow numbers).
        cursor.execute("DROP INDEX IF EXISTS audit_logentry_search")
        for first in range(loaded + 1, rows + 1, LOAD_CHUNK):
            last = min(first + LOAD_CHUNK - 1, rows)
            cursor.execute(_INSERT, times | {"reasons": _REASONS, "first": first, "last": last})
            print(f"  loaded {last:,} records ({time.perf_counter() - started:.0f} s)", flush=True)
        built = time.perf_counter()
        cursor.execute(
            "CREATE INDEX audit_logentry_search ON audit_logentry "
            "USING gin (audit_search_text(subject_repr, payload) gin_trgm_ops)"
        )
        print(f"  search index built in {time.perf_counter() - built:.0f} s", flush=True)
        # The numbers are given out as the writer gives them, so the rollups may fold every loaded record.
        cursor.execute("SELECT setval('audit_logentry_seq', greatest(%s, last_value)) FROM audit_logentry_seq", [rows])
        cursor.execute("VACUUM ANALYZE audit_logentry")
    print(f"  load, index and VACUUM ANALYZE: {time.perf_counter() - started:.0f} s", flush=True)
    return rows


def _fold() -> None:
    """Folds the loaded records into the dashboard's rollups, as the periodic sealing task does."""
    from django.db import connection

    from audit.services import rollups_fold

    started = time.perf_counter()
    folded = rollups_fold()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE audit_rollup")
        cursor.execute("SELECT count(*) FROM audit_rollup")
        kept = cursor.fetchone()[0]
    print(f"  folded {folded:,} records into {kept:,} rollup rows in {time.perf_counter() - started:.1f} s", flush=True)


def _timed(run: Callable[[], Any], runs: int) -> tuple[float, float]:
    run()  # warm the cache
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        run()
        times.append((time.perf_counter() - began) * 1000)
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, int(round(0.95 * (len(times) - 1))))]


def _dashboard_page() -> Any:
    """The dashboard view, asked by an auditor of the scratch database (no sign-in: that would write a record)."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.test import RequestFactory

    from audit.views import dashboards
    from genai_platform.roles import Role

    user, made = get_user_model().objects.get_or_create(username="bench-auditor")
    if made:
        user.groups.add(Group.objects.get(name=Role.AUDITOR))

    def ask() -> Any:
        request = RequestFactory().get("/audit/dashboards/", {"range": "30d"})
        request.user = user
        return dashboards(request)

    return ask


def _page_ok(response: Any) -> None:
    if response.status_code != 200:
        raise RuntimeError(f"the dashboard answered {response.status_code}")


def _measure(rows: int, runs: int, *, plans: bool) -> dict[str, tuple[float, float]]:
    from django.conf import settings
    from django.db.models import Max, Sum
    from django.utils import timezone

    from audit import dashboard, explorer
    from audit.models import LogEntry
    from audit.selectors import LogFilters

    figures: dict[str, tuple[float, float]] = {}
    views = {
        "refusals searched 暴力内容, 30 days": {"event_type": "generation.refused", "search": "暴力内容"},
        "everything, 30 days": {},
    }
    with timezone.override(settings.AUDIT_TIME_ZONE):
        time_range = explorer.time_range_from({"range": "30d"})
        for name, chosen in views.items():
            filters = LogFilters.from_mapping(chosen | time_range.as_filters())
            qs = filters.queryset()
            page = explorer.log_page(qs, size=settings.AUDIT_LOG_PAGE_SIZE)
            bars = dashboard.log_histogram(filters, time_range)
            print(
                f"\n  {name}: first page {len(page.entries)} records; histogram {len(bars)} bars, "
                f"{sum(b.count for b in bars):,} records"
            )
            figures[f"page: {name}"] = _timed(
                lambda qs=qs: explorer.log_page(qs, size=settings.AUDIT_LOG_PAGE_SIZE), runs
            )
            figures[f"histogram: {name}"] = _timed(
                lambda filters=filters: dashboard.log_histogram(filters, time_range), max(5, runs // 3)
            )
            if plans:
                # The page's first query: the newest records within the window below the last number.
                top = LogEntry.objects.aggregate(top=Max("seq"))["top"] or 0
                near = qs.filter(seq__gt=top - settings.AUDIT_LOG_PAGE_WINDOW).order_by("-seq")
                print("  EXPLAIN first page (within the window):")
                plan = near[: settings.AUDIT_LOG_PAGE_SIZE + 1].explain(analyze=True, buffers=True)
                print("    " + plan.replace("\n", "\n    "))
                part = dashboard.split(time_range)
                if chosen or part.rolled is None:
                    print("  EXPLAIN histogram (from the log):")
                    plan = explorer.bar_counts(qs, time_range)[0].explain(analyze=True, buffers=True)
                    print("    " + plan.replace("\n", "\n    "))
                else:
                    print("  EXPLAIN histogram, the edges and the records not folded (from the log):")
                    plan = explorer.bar_counts(part.raw, time_range)[0].explain(analyze=True, buffers=True)
                    print("    " + plan.replace("\n", "\n    "))
                    print("  EXPLAIN histogram, the whole quarter hours (from the rollups):")
                    rolled = part.rolled_by_bar().values_list("bar").annotate(n=Sum("records"))
                    print("    " + rolled.explain(analyze=True, buffers=True).replace("\n", "\n    "))
        # The dashboard: every panel's figures, then the whole page as an auditor gets it (charts and tables).
        panels = dashboard.figures(time_range)
        print(
            f"\n  dashboard, 30 days: {sum(panels.requests['generation.requested']):,} accepted requests, "
            f"{panels.refusals.content:,} content refusals, {panels.latency.overall.jobs:,} finished jobs of "
            f"{panels.latency.outputs:,} outputs (p50 {panels.latency.overall.p50:.0f} ms, "
            f"p95 {panels.latency.overall.p95:.0f} ms)"
        )
        slow_runs = max(5, runs // 3)
        figures["dashboard: every panel's figures, 30 days"] = _timed(lambda: dashboard.figures(time_range), slow_runs)
        if plans:
            part = dashboard.split(time_range)
            print("  EXPLAIN dashboard, refusals by reason and risk codes read from the log (edges, unfolded tail):")
            plan = dashboard.refusals_query(time_range, part=part).explain(analyze=True, buffers=True)
            print("    " + plan.replace("\n", "\n    "))
            if part.rolled is not None:
                print("  EXPLAIN dashboard, refusals by reason and risk codes read from the rollups:")
                rolled = (
                    part.rolled.filter(event_type="generation.refused")
                    .order_by()
                    .values_list("reason_code", "stage", "risk_codes")
                    .annotate(n=Sum("records"))
                )
                plan = rolled.explain(analyze=True, buffers=True)
                print("    " + plan.replace("\n", "\n    "))
    ask = _dashboard_page()
    figures["dashboard: the whole page, 30 days"] = _timed(lambda: _page_ok(ask()), slow_runs)
    print(f"\n  at {rows:,} records (ms, p50 / p95):")
    for label, (p50, p95) in figures.items():
        print(f"    {label:<55} {p50:8.1f} / {p95:8.1f}")
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="records of the first measurement")
    parser.add_argument("--ten-million", action="store_true", help="then grow the log to 10,000,000 and measure again")
    parser.add_argument("--runs", type=int, default=30, help="timed runs of each first page")
    parser.add_argument("--no-plans", action="store_true", help="leave the EXPLAIN plans out")
    args = parser.parse_args(argv)
    if not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
        print("The log page benchmark needs PostgreSQL: set DATABASE_URL (a scratch database is made next to it).")
        return 0
    sizes = [args.rows, *([10_000_000] if args.ten_million and args.rows < 10_000_000 else [])]
    from django.conf import settings

    if settings.configured:
        # Started by benchmarks/run.py, whose settings name the configured database: run apart, on the scratch one.
        return subprocess.call([sys.executable, __file__, *(argv or [])])

    url, drop = postgresql_scratch(os.environ["DATABASE_URL"], "_explorerbench")
    try:
        with tempfile.TemporaryDirectory(prefix="explorerbench-") as tmp:
            django_setup(url, str(Path(tmp) / "data"))
            from django.core.management import call_command
            from django.db import connection

            if connection.settings_dict["NAME"] != url.rsplit("/", 1)[-1]:
                print("The benchmark is not connected to its scratch database; nothing was measured.")
                return 2

            call_command("migrate", verbosity=0)
            print(f"log page benchmark on PostgreSQL {connection.pg_version}, {os.cpu_count()} CPUs")
            results: dict[int, dict[str, tuple[float, float]]] = {}
            with connection.cursor() as cursor:
                # Setting up the platform writes a few records of its own: the loaded ones are numbered after them.
                cursor.execute("SELECT coalesce(max(seq), 0) FROM audit_logentry")
                loaded = int(cursor.fetchone()[0])
            for rows in sizes:
                print(f"\nloading {rows:,} records")
                loaded = _load(rows, loaded)
                _fold()
                results[rows] = _measure(rows, args.runs, plans=not args.no_plans)
            connection.close()
    finally:
        drop()

    largest = results[sizes[-1]]
    worst_page = max(p95 for label, (_p50, p95) in largest.items() if label.startswith("page"))
    worst_histogram = max(p95 for label, (_p50, p95) in largest.items() if label.startswith("histogram"))
    print(
        f"\nat {sizes[-1]:,} records: slowest first page p95 {worst_page:.1f} ms (goal at 10M <= "
        f"{FIRST_PAGE_GOAL_MS:.0f}), slowest histogram p95 {worst_histogram:.1f} ms (goal at 10M <= "
        f"{HISTOGRAM_GOAL_MS:.0f})"
    )
    dashboard_page = largest["dashboard: the whole page, 30 days"][1]
    print(f"  the whole dashboard p95 {dashboard_page:.1f} ms (goal at 10M <= {DASHBOARD_GOAL_MS:.0f})")
    if len(sizes) > 1:
        small = results[sizes[0]]
        for label, (_p50, p95) in largest.items():
            if label.startswith("page"):
                growth = p95 / max(small[label][1], 0.1)
                print(f"  {label}: {growth:.1f}x the {sizes[0]:,} figure (goal <= {FIRST_PAGE_GROWTH_GOAL:.0f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Audit log benchmark: ingest, export and verification, as ratios against baselines measured in the same run.

    python benchmarks/bench_audit.py [--writers 4] [--per-writer 1500] [--export-rows 100000 1000000]

Runs on PostgreSQL when DATABASE_URL is set (in a scratch database ``<name>_auditbench`` created
next to it and dropped at the end), otherwise on SQLite in a temporary directory. The live audit
log is never touched.

- ingest: records/s written through ``audit.services`` by concurrent writer processes (each record
  its own transaction, as in production, tagged with its HMAC) vs plain single-row INSERTs of rows of the same width
  into a table with the same indexes but no triggers, by the same number of processes; rounds in
  alternating order, median ratio. Goal >= 0.8x.
- export: CSV rows/s of ``audit_export``'s writer vs ``COPY (SELECT ...) TO STDOUT WITH CSV`` of
  the same rows (SQLite: a bare cursor into csv.writer). Goal >= 0.3x. On PostgreSQL CSV exports
  (full and pseudonymised) are themselves written by COPY; JSONL goes row by row through Python
  and is measured too. Peak memory of the export process at each size; goal: growth < 50 MB
  from 100,000 to 1,000,000 rows.
- verification: records/s of ``log_verify`` over everything (goal >= 100,000/s), and sealing
  records/s against the ingest goal (half the plain INSERT rate).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import multiprocessing
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

BASE_DIR = Path(__file__).resolve().parent.parent

# Seconds the ingest writers may take to set up and meet at the start.
_START_TIMEOUT = 120
sys.path.insert(0, str(BASE_DIR))

from benchmarks.scratch import django_setup, postgresql_scratch  # noqa: E402


# ------------------------------------------------------------------------------
# Child processes
# ------------------------------------------------------------------------------
def _ingest_child(args: tuple[str, str, int, int, str, Any]) -> None:
    database_url, data_dir, count, index, mode, barrier = args
    django_setup(database_url, data_dir)
    from django.db import connection

    from audit import services

    digest = hashlib.sha256(b"x").hexdigest()
    connection.ensure_connection()
    barrier.wait(timeout=_START_TIMEOUT)
    if mode == "audit":
        for i in range(count):
            services.generation_event(
                event_type="generation.succeeded",
                actor_id=str(index),
                actor_username=f"writer{index}",
                source_ip="10.0.0.1",
                source_port=40000 + i % 1000,
                user_agent="bench",
                subject=("generation.output", str(i), f"output {i}"),
                filing_number="F-0001",
                model_record="digits-gan v1",
                checkpoint_sha256=digest,
                keyword_library_version="3",
                decision="allowed",
                produce_id=f"P{index}-{i}",
                output_sha256=digest,
                payload={"job_id": str(i), "kind": "gan", "latency_ms": 120},
            )
    else:
        from audit.integrity import RECORD_FIELDS

        columns = ", ".join(("seq", *RECORD_FIELDS, "record_hash", "record_tag"))
        sql = f"INSERT INTO bench_plain ({columns}) VALUES ({', '.join(['%s'] * (len(RECORD_FIELDS) + 3))})"  # noqa: S608
        from django.utils import timezone

        with connection.cursor() as cursor:
            for i in range(count):
                cursor.execute(
                    sql,
                    [
                        index * 10_000_000 + i,
                        connection.ops.adapt_datetimefield_value(timezone.now()),
                        str(index),
                        f"writer{index}",
                        "10.0.0.1",
                        40000 + i % 1000,
                        "bench",
                        "generation.succeeded",
                        "generation.output",
                        str(i),
                        f"output {i}",
                        "F-0001",
                        "digits-gan v1",
                        digest,
                        "3",
                        "allowed",
                        "",
                        f"P{index}-{i}",
                        "",
                        digest,
                        '{"job_id":"1","kind":"gan","latency_ms":120}',
                        digest,
                        digest,
                    ],
                )


def _export_child(args: tuple[str, str, int, str, str, bool]) -> tuple[float, int]:
    """Export the first ``rows`` records; returns (seconds, peak RSS in KB)."""
    database_url, data_dir, rows, out, fmt, pseudonymise = args
    django_setup(database_url, data_dir)
    from audit.exports import export_create, export_write_file
    from audit.selectors import LogFilters

    export = export_create(user=None, fmt=fmt, filters=LogFilters(seq_to=str(rows)), pseudonymise=pseudonymise)
    start = time.perf_counter()
    export_write_file(export=export, path=Path(out))
    return time.perf_counter() - start, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _baseline_export_child(args: tuple[str, str, int]) -> float:
    database_url, data_dir, rows = args
    django_setup(database_url, data_dir)
    from django.db import connection

    from audit.integrity import RECORD_FIELDS

    columns = ", ".join(("seq", *RECORD_FIELDS, "record_hash"))
    query = f"SELECT {columns} FROM audit_logentry WHERE seq <= {int(rows)} ORDER BY seq"  # noqa: S608
    sink = _NullWriter()
    start = time.perf_counter()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.cursor.copy_expert(f"COPY ({query}) TO STDOUT WITH CSV HEADER", sink)
        else:
            import csv

            writer = csv.writer(io.TextIOWrapper(sink, encoding="utf-8", write_through=True))
            cursor.execute(query)
            while batch := cursor.fetchmany(5000):
                writer.writerows(batch)
    return time.perf_counter() - start


class _NullWriter(io.RawIOBase):
    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        return len(data)


# ------------------------------------------------------------------------------
# Scratch database
# ------------------------------------------------------------------------------
def _scratch_database(tmp: str) -> tuple[str, Any]:
    url = os.environ.get("DATABASE_URL", "")
    if not url:
        return f"sqlite:///{tmp}/bench.sqlite3", None
    return postgresql_scratch(url, "_auditbench")


def _bulk_load(rows: int, start_seq: int) -> None:
    """Append ``rows`` records with valid hashes directly (setup only; the writer is measured above)."""
    from django.db import connection
    from django.utils import timezone

    from audit import integrity
    from audit.services import tag_key

    key = tag_key()
    digest = hashlib.sha256(b"y").hexdigest()
    now = timezone.now()
    stamp = integrity.time_canonical(now)
    db_time = connection.ops.adapt_datetimefield_value(now)
    columns = ("seq", *integrity.RECORD_FIELDS, "record_hash", "record_tag")
    chunk = 20_000
    with connection.cursor() as cursor:
        for base in range(start_seq, start_seq + rows, chunk):
            batch = []
            for seq in range(base, min(base + chunk, start_seq + rows)):
                values = [
                    stamp,
                    str(seq % 500),
                    f"user{seq % 500}",
                    "10.0.0.2",
                    40000 + seq % 1000,
                    "bench",
                    "generation.requested",
                    "generation.job",
                    str(seq),
                    f"job {seq}",
                    "F-0001",
                    "digits-gan v1",
                    digest,
                    "3",
                    "allowed",
                    "A.1.2" if seq % 20 == 0 else "",
                    f"P{seq}",
                    digest,
                    "",
                    f'{{"job_id":"{seq}","kind":"gan"}}',
                ]
                row_hash = integrity.record_hash(values)
                values[0] = db_time
                batch.append([seq, *values, row_hash, integrity.record_tag(key, seq, row_hash)])
            if connection.vendor == "postgresql":
                buffer = io.StringIO()
                import csv

                writer = csv.writer(buffer, quoting=csv.QUOTE_ALL)  # "" is an empty string, not NULL
                for row in batch:
                    writer.writerow(["" if v is None else v for v in row])
                buffer.seek(0)
                cursor.cursor.copy_expert(f"COPY audit_logentry ({', '.join(columns)}) FROM STDIN WITH CSV", buffer)
            else:
                cursor.executemany(
                    f"INSERT INTO audit_logentry ({', '.join(columns)}) VALUES ({', '.join(['%s'] * len(columns))})",  # noqa: S608
                    batch,
                )
        # Move the numbering past the loaded rows (the SQLite counter's trigger allows one step at a time).
        if not rows:
            return
        if connection.vendor == "postgresql":
            cursor.execute("SELECT setval('audit_logentry_seq', %s)", [start_seq + rows - 1])
        else:
            cursor.execute("DROP TRIGGER audit_sequence_forward")
            cursor.execute("UPDATE audit_sequence SET last_seq = %s", [start_seq + rows - 1])


# ------------------------------------------------------------------------------
# Main
# ------------------------------------------------------------------------------
def _run_ingest(ctx: Any, url: str, data_dir: str, writers: int, per_writer: int, mode: str, round_: int) -> float:
    barrier = ctx.Barrier(writers + 1)
    procs = [
        ctx.Process(target=_ingest_child, args=((url, data_dir, per_writer, round_ * writers + n, mode, barrier),))
        for n in range(writers)
    ]
    for p in procs:
        p.start()
    try:
        barrier.wait(timeout=_START_TIMEOUT)
    except threading.BrokenBarrierError:
        # A writer that died before the start (a refused connection, the machine out of memory) would otherwise
        # leave the others waiting for ever.
        for p in procs:
            p.terminate()
            p.join()
        codes = ", ".join(str(p.exitcode) for p in procs)
        raise SystemExit(
            f"the {mode} ingest writers did not all start within {_START_TIMEOUT} s (exit codes {codes})"
        ) from None
    start = time.perf_counter()
    for p in procs:
        p.join()
    elapsed = time.perf_counter() - start
    if any(p.exitcode for p in procs):
        raise SystemExit(f"an ingest writer ({mode}) failed")
    return writers * per_writer / elapsed


def _ingest_rounds(ctx: Any, url: str, data_dir: str, args: argparse.Namespace) -> float:
    """Median ratio of audit.services to plain INSERT over the rounds; returns the median plain rate."""
    ratios, plains = [], []
    for round_ in range(args.rounds):
        order = ("plain", "audit") if round_ % 2 == 0 else ("audit", "plain")
        rates = {mode: _run_ingest(ctx, url, data_dir, args.writers, args.per_writer, mode, round_) for mode in order}
        ratios.append(rates["audit"] / rates["plain"])
        plains.append(rates["plain"])
        print(
            f"ingest round {round_ + 1}: audit.services {rates['audit']:,.0f} records/s vs plain INSERT "
            f"{rates['plain']:,.0f} rows/s = {ratios[-1]:.2f}x"
        )
    plain = sorted(plains)[len(plains) // 2]
    print(f"ingest: median {sorted(ratios)[len(ratios) // 2]:.2f}x over {args.rounds} rounds (goal >= 0.8x)")

    return plain


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writers", type=int, default=4)
    parser.add_argument("--per-writer", type=int, default=1500)
    parser.add_argument("--export-rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--rounds", type=int, default=3, help="ingest rounds (alternating order)")
    parser.add_argument("--only", default="ingest,verify,export", help="comma-separated subset of ingest,verify,export")
    args = parser.parse_args(argv)
    parts = {p.strip() for p in args.only.split(",") if p.strip()}
    unknown = parts - {"ingest", "verify", "export"}
    if unknown or not parts:
        parser.error(f"--only takes ingest, verify and export; not {', '.join(sorted(unknown)) or 'nothing'}")

    from django.conf import settings

    if settings.configured:
        # Started by benchmarks/run.py, whose settings name the run's database: run apart, on a scratch one of its own.
        return subprocess.call([sys.executable, __file__, *(argv or [])])

    ctx = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory(prefix="auditbench-") as tmp:
        url, drop = _scratch_database(tmp)
        data_dir = str(Path(tmp) / "data")
        try:
            django_setup(url, data_dir)
            from django.core.management import call_command
            from django.db import connection

            call_command("migrate", verbosity=0)
            with connection.cursor() as cursor:
                from audit.integrity import RECORD_FIELDS

                width = ", ".join(
                    f"{name} text" if name not in ("source_port",) else f"{name} integer" for name in RECORD_FIELDS
                )
                kind = "bigint" if connection.vendor == "postgresql" else "integer"
                cursor.execute(
                    f"CREATE TABLE bench_plain (seq {kind} PRIMARY KEY, {width}, record_hash text, record_tag text)"
                )
                # The same secondary indexes as the log, so that the ratio is the cost of the protocol.
                for columns in ("created_at", "event_type", "actor_id", "produce_id", "subject_kind, subject_id"):
                    name = "bench_plain_" + columns.replace(", ", "_")
                    cursor.execute(f"CREATE INDEX {name} ON bench_plain ({columns})")
                cursor.execute("CREATE INDEX bench_plain_filing ON bench_plain (filing_number)")
                if kind == "bigint":
                    # The log's search index (trigrams of the subject and payload, from audit migration 0004).
                    cursor.execute(
                        "CREATE INDEX bench_plain_search ON bench_plain "
                        "USING gin (audit_search_text(subject_repr, payload) gin_trgm_ops)"
                    )
            connection.close()
            vendor = connection.vendor
            print(f"audit benchmark on {vendor}; {args.writers} writer processes, {os.cpu_count()} CPUs")

            # Ingest: rounds in alternating order, so that a change of machine load hits both sides.
            plain = 0.0
            if "ingest" in parts:
                plain = _ingest_rounds(ctx, url, data_dir, args)
            if not parts & {"verify", "export"}:
                return 0
            from audit.services import numbers_given_out, seals_make
            from audit.verification import log_verify

            # Sealing what was ingested and the bulk load below
            biggest = max(args.export_rows)
            loaded_from = numbers_given_out() + 1
            load_start = time.perf_counter()
            _bulk_load(max(0, biggest - loaded_from + 1), loaded_from)
            print(f"(setup: {biggest:,} records loaded in {time.perf_counter() - load_start:.0f} s)")
            start = time.perf_counter()
            sealed = sum(s.record_count for s in seals_make())
            seal_rate = sealed / (time.perf_counter() - start)
            if plain:
                goal = f" = {seal_rate / (0.5 * plain):.1f}x the ingest goal ({0.5 * plain:,.0f}/s)"
            else:
                goal = " (run with ingest to compare with the ingest goal)"
            print(f"sealing: {seal_rate:,.0f} records/s{goal}")

            if "verify" in parts:
                start, cpu = time.perf_counter(), time.process_time()
                result = log_verify()
                verify_rate = result.records / (time.perf_counter() - start)
                cpu_us = (time.process_time() - cpu) / max(1, result.records) * 1e6
                print(
                    f"verification: {verify_rate:,.0f} records/s over {result.records:,} records "
                    f"= {verify_rate / 100_000:.2f}x the goal of 100,000/s ({result.summary()[:40]}); "
                    f"verifier CPU {cpu_us:.1f} us/record"
                )

            connection.close()

            if "export" in parts:
                # Export
                kinds = {"full CSV": ("csv", False), "pseudonymised CSV": ("csv", True), "full JSONL": ("jsonl", False)}
                peaks: dict[str, list[float]] = {label: [] for label in kinds}
                baseline = "COPY ... TO STDOUT WITH CSV" if vendor == "postgresql" else "cursor + csv.writer"
                for rows in sorted(args.export_rows):
                    with ctx.Pool(1) as pool:
                        base_seconds = pool.apply(_baseline_export_child, ((url, data_dir, rows),))
                    for label, (fmt, pseudonymise) in kinds.items():
                        with ctx.Pool(1) as pool:
                            seconds, peak_kb = pool.apply(
                                _export_child, ((url, data_dir, rows, f"{tmp}/out.{fmt}", fmt, pseudonymise),)
                            )
                        peaks[label].append(peak_kb / 1024)
                        print(
                            f"export {rows:,} rows, {label}: {rows / seconds:,.0f} rows/s vs {baseline} "
                            f"{rows / base_seconds:,.0f} rows/s = {base_seconds / seconds:.2f}x (goal >= 0.3x); "
                            f"peak memory {peak_kb / 1024:.0f} MB"
                        )
                if len(args.export_rows) > 1:
                    low, high = sorted(args.export_rows)[0], sorted(args.export_rows)[-1]
                    for label, values in peaks.items():
                        print(
                            f"export memory growth {low:,} -> {high:,} rows, {label}: "
                            f"{values[-1] - values[0]:+.1f} MB (goal < 50 MB)"
                        )
        finally:
            from django.db import connections

            connections.close_all()
            if drop:
                drop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

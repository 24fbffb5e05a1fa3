"""Load under gunicorn: concurrent clients listing and creating jobs, against a plain DRF endpoint.

Baselines, served by the same gunicorn in the same run: ``GET /bench/plain/`` (``benchmarks.load_urls``), DRF
with no authentication and one database query, and ``GET /bench/authenticated/``, the same with the API's
authentication and throttling, first one client at a time next to ``/healthz`` (what a request costs), then
by all the clients. Then the caller's job list
(``GET /api/v1/jobs/``) and job creation (``POST /api/v1/jobs/``, one VAE image), each by the same
number of clients for the same time, one user and token per client, with DEBUG off. The Celery worker
starts when the creation phase ends, so that the phase measures what the web takes: on one 2-core machine a
worker running the jobs would take one of the two cores the web is measured on (in production, workers have
hosts of their own). The benchmark then waits for the queue to drain and counts the jobs that were accepted
(201) but are missing from the database or never finished. The job list is measured last, when each
user has the jobs just made (a page of 20 out of about a hundred) and the worker is idle.

The run is self-contained: a scratch data directory and, on PostgreSQL, a scratch database
``<name>_bench_load`` that is dropped afterwards; on Redis, database 7 of the configured server
(flushed first). Quotas, request rates and the queue's depth limit are lifted so that the figures measure the
service.

    BENCH_LOAD_CLIENTS=20 BENCH_LOAD_SECONDS=60 python benchmarks/run.py load
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
TERMINAL = {"succeeded", "failed", "refused", "cancelled"}
JOB_BODY = json.dumps({"kind": "vae", "params": {"count": 1}}).encode()


@dataclass
class Phase:
    name: str
    seconds: float = 0.0
    statuses: list[int] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    created: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def row(self) -> str:
        ok = sum(1 for s in self.statuses if 200 <= s < 300)
        client_errors = sum(1 for s in self.statuses if 400 <= s < 500)
        errors = sum(1 for s in self.statuses if s >= 500 or s == 0)
        lat = sorted(self.latencies)
        p50 = statistics.median(lat) * 1000 if lat else float("nan")
        p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000 if lat else float("nan")
        return (
            f"{self.name:26} {ok / self.seconds:9.1f} {p50:8.1f} {p99:8.1f} "
            f"{len(self.statuses):8d} {ok:7d} {client_errors:6d} {errors:7d}"
        )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _scratch_env(data_dir: Path) -> tuple[dict[str, str], str | None]:
    """The environment of the benchmark's processes, and the scratch PostgreSQL database to drop after."""
    env = dict(os.environ)
    env.update(
        GENAI_DATA_DIR=str(data_dir),
        DJANGO_SETTINGS_MODULE="benchmarks.load_settings",
        DJANGO_LOG_LEVEL="ERROR",
        GENAI_DAILY_JOB_QUOTA="100000000",
        GENAI_API_RATE="100000000/min",
        GENAI_API_JOB_RATE="100000000/min",
        GENAI_QUEUE_DEPTH_LIMIT="0",  # every job is taken, however many wait: the queue drains after the phase
        PYTHONPATH=str(ROOT),
    )
    scratch_db = None
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith(("postgres://", "postgresql://")):
        import psycopg2

        parts = urlsplit(url)
        scratch_db = f"{parts.path.lstrip('/') or 'postgres'}_bench_load"
        admin = psycopg2.connect(urlunsplit(parts._replace(path="/postgres")))
        admin.autocommit = True
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{scratch_db}" WITH (FORCE)')
            cursor.execute(f'CREATE DATABASE "{scratch_db}"')
        admin.close()
        env["DATABASE_URL"] = urlunsplit(parts._replace(path=f"/{scratch_db}"))
    redis_url = os.environ.get("REDIS_URL", "")
    if redis_url:
        import redis

        scratch_redis = urlunsplit(urlsplit(redis_url)._replace(path="/7"))
        redis.Redis.from_url(scratch_redis).flushdb()
        env["REDIS_URL"] = scratch_redis
        env.pop("CELERY_BROKER_URL", None)
    return env, scratch_db


def _scratch_drop(name: str | None) -> None:
    if name is None:
        return
    import psycopg2

    admin = psycopg2.connect(urlunsplit(urlsplit(os.environ["DATABASE_URL"])._replace(path="/postgres")))
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.close()


def _run(args: list[str], env: dict[str, str], stdin: str | None = None) -> str:
    done = subprocess.run(args, env=env, cwd=ROOT, input=stdin, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return done.stdout


def _wait_up(port: int, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("gunicorn did not answer /healthz within a minute")


def _client(
    port: int, phase: Phase, method: str, path: str, token: str | None, until: float, body: bytes | None
) -> None:
    headers = {"Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Token {token}"
    if body is not None:
        headers["Content-Type"] = "application/json"
    conn: http.client.HTTPConnection | None = None
    while time.perf_counter() < until:
        if conn is None:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        started = time.perf_counter()
        created = None
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            data = response.read()
            status = response.status
            if status == 201:
                created = json.loads(data)["id"]
            if response.will_close:
                conn.close()
                conn = None
        except (OSError, http.client.HTTPException):
            status = 0
            conn.close()
            conn = None
        elapsed = time.perf_counter() - started
        with phase.lock:
            phase.statuses.append(status)
            phase.latencies.append(elapsed)
            if created:
                phase.created.append(created)


def _phase(
    name: str, port: int, method: str, path: str, tokens: list[str | None], seconds: float, body: bytes | None = None
) -> Phase:
    phase = Phase(name)
    until = time.perf_counter() + seconds
    threads = [
        threading.Thread(target=_client, args=(port, phase, method, path, token, until, body)) for token in tokens
    ]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    phase.seconds = time.perf_counter() - started
    return phase


def _drain(env: dict[str, str], ids: list[str], quiet_seconds: float = 30, most_seconds: float = 600) -> dict[str, str]:
    """Job statuses once every job finished, or once none finished for ``quiet_seconds``."""
    deadline = time.monotonic() + most_seconds
    last_done, last_change = -1, time.monotonic()
    while True:
        statuses = json.loads(_run([PYTHON, "-m", "benchmarks.load_app", "jobs"], env, json.dumps(ids)))
        done = sum(1 for s in statuses.values() if s in TERMINAL)
        if done != last_done:
            last_done, last_change = done, time.monotonic()
        if done == len(ids) or time.monotonic() - last_change > quiet_seconds or time.monotonic() > deadline:
            return dict(statuses)
        time.sleep(2)


def main(argv: list[str] | None = None) -> None:
    from genai_platform.queues import Queue

    clients = int(os.environ.get("BENCH_LOAD_CLIENTS", "20"))
    seconds = float(os.environ.get("BENCH_LOAD_SECONDS", "60"))
    data_dir = Path(tempfile.mkdtemp(prefix="genai-bench-load-"))
    env, scratch_db = _scratch_env(data_dir)
    processes: list[subprocess.Popen[Any]] = []
    try:
        _run([PYTHON, "manage.py", "migrate", "--noinput", "-v", "0"], env)
        _run([PYTHON, "manage.py", "demo_data"], env)
        tokens: list[str | None] = json.loads(_run([PYTHON, "-m", "benchmarks.load_app", "users", str(clients)], env))
        port = _free_port()
        serving = ",".join(q.value for q in Queue if q is not Queue.TRAINING)
        worker = [PYTHON, "-m", "celery", "-A", "genai_platform", "--quiet", "worker", "--queues", serving]
        worker += ["--concurrency", "1", "--loglevel", "WARNING"]
        web = [PYTHON, "-m", "gunicorn", "genai_platform.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "2"]
        web += ["--log-level", "warning"]

        def start(name: str, command: list[str]) -> None:
            with open(data_dir / f"{name}.log", "wb") as log:
                processes.append(subprocess.Popen(command, env=env, cwd=ROOT, stdout=log, stderr=log))

        start("web", web)
        _wait_up(port)

        database = "PostgreSQL" if scratch_db else "SQLite"
        broker = "Redis" if env.get("REDIS_URL") else "filesystem"
        print(f"{clients} clients, {seconds:.0f} s a phase, gunicorn 2 workers (DEBUG off), one Celery worker")
        print(f"database: {database}; broker: {broker}")
        load_before = os.getloadavg()
        # One client at a time: what a request costs the web process, with nothing waiting.
        single_seconds = max(seconds / 6, 5.0)
        single = [
            _phase("/healthz, one client", port, "GET", "/healthz", [None], single_seconds),
            _phase("plain DRF, one client", port, "GET", "/bench/plain/", [None], single_seconds),
            _phase("authenticated, one client", port, "GET", "/bench/authenticated/", tokens[:1], single_seconds),
        ]
        plain = _phase("plain DRF, one query", port, "GET", "/bench/plain/", [None] * clients, seconds)
        authenticated = _phase("authenticated, one query", port, "GET", "/bench/authenticated/", tokens, seconds)
        creation = _phase("job creation (POST)", port, "POST", "/api/v1/jobs/", tokens, seconds, JOB_BODY)
        start("worker", worker)
        # The list is read once the queue has drained, so each user has the jobs just made and no worker competes.
        statuses = _drain(env, creation.created)
        listing = _phase("job list (GET /jobs/)", port, "GET", "/api/v1/jobs/", tokens, seconds)
        load_after = os.getloadavg()

        print(f"{'':26} {'ok/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'requests':>8} {'2xx':>7} {'4xx':>6} {'5xx/conn':>7}")
        for phase in (*single, plain, authenticated, creation, listing):
            print(phase.row())
        healthz, plain_one, authenticated_one = (statistics.median(phase.latencies) * 1000 for phase in single)
        print(
            f"one client, p50: authenticated endpoint {authenticated_one - healthz:.2f} ms over /healthz "
            f"(goal <= 2 ms), {authenticated_one - plain_one:.2f} ms over the plain endpoint (authentication and "
            "throttling alone)"
        )

        def rate(phase: Phase) -> float:
            return sum(1 for s in phase.statuses if 200 <= s < 300) / phase.seconds

        for phase in (creation, listing):
            print(f"ratio {phase.name} / plain: {rate(phase) / rate(plain):.2f}x throughput")
        print(
            f"ratio job creation / authenticated endpoint: {rate(creation) / rate(authenticated):.2f}x throughput "
            "(goal >= 0.5x)"
        )

        missing = [i for i in creation.created if i not in statuses]
        unfinished = [i for i, s in statuses.items() if s not in TERMINAL]
        by_status: dict[str, int] = {}
        for status in statuses.values():
            by_status[status] = by_status.get(status, 0) + 1
        print(
            f"jobs accepted (201): {len(creation.created)}; in the database: {len(statuses)}; "
            f"lost: {len(missing)}; not finished after the queue drained: {len(unfinished)}; "
            f"by status: {json.dumps(by_status, sort_keys=True)}"
        )
        print(
            "load average 1 min: "
            f"{load_before[0]:.2f} before the phases, {load_after[0]:.2f} after ({os.cpu_count()} cores)"
        )
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        _scratch_drop(scratch_db)
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()

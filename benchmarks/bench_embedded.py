"""Latency on one machine: the platform started as ``make run`` starts it, timed from submission to result.

For each polling interval of the embedded broker (``GENAI_EMBEDDED_BROKER_POLL_SECONDS``: 1 s, kombu's own
default and the platform's before it set one, then the platform's default) the benchmark makes a fresh data
folder (SQLite, broker files), runs ``migrate`` and ``demo_data``, starts ``run_platform`` with its real
worker processes, and from another process of the same folder:

- submits one-image VAE jobs through ``job_submit``, one at a time, and reads the job row until it is
  finished: submission to result, of which ``job_submit`` itself (moderation, the row, sending the task),
  the wait for a worker (sent → started) and the compute (started → finished, the row's own times);
- sends the heartbeat task (a no-op beside one row written) and reads until its row appears: the broker
  and worker's round trip with nothing else in it;
- reads the CPU time the idle worker processes use, from ``/proc/<pid>/stat``: the cost of a short interval.

    python benchmarks/run.py embedded
    BENCH_EMBEDDED_ROUNDS=50 BENCH_EMBEDDED_IDLE_SECONDS=0 python benchmarks/bench_embedded.py

The rows are read every ``READ_EVERY_SECONDS``, which bounds what the reading adds to each figure.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
if str(BASE_DIR) not in sys.path:
    sys.path.insert(0, str(BASE_DIR))

from benchmarks.scratch import platform_start  # noqa: E402

MANAGE = str(BASE_DIR / "manage.py")
# Before: kombu's default, which the platform used until it set its own; after: the platform's default.
INTERVALS: list[tuple[str, str | None]] = [("1 s (before)", "1.0"), ("default (after)", None)]
READ_EVERY_SECONDS = 0.002
# Longest wait for one job or task before the benchmark gives up (a stopped worker, a lost message).
ROUND_TIMEOUT_SECONDS = 60.0
# Rounds that load the net and warm the processes up, not counted.
WARM_UP = 2
FINISHED = ("succeeded", "failed", "refused", "cancelled")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def _platform_env(folder: str, interval: str | None) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "GENAI_EMBEDDED_BROKER_POLL_SECONDS")
        and not k.startswith("DJANGO_")
    }
    env |= {
        "GENAI_DATA_DIR": folder,
        "DJANGO_SETTINGS_MODULE": "genai_platform.settings.base",
        "PYTHONUNBUFFERED": "1",
        "GENAI_DAILY_JOB_QUOTA": "0",
    }
    if interval is not None:
        env["GENAI_EMBEDDED_BROKER_POLL_SECONDS"] = interval
    return env


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _worker_pids(folder: str) -> list[int]:
    """The worker processes (both workers and their pool processes), by the process groups run_platform made."""
    children = json.loads((Path(folder) / "run" / "platform.json").read_text())
    groups = {children[name] for name in ("worker", "worker-training")}
    listing = subprocess.run(["ps", "-e", "-o", "pid=,pgid="], capture_output=True, text=True, check=True).stdout
    return [int(pid) for pid, pgid in (line.split() for line in listing.splitlines()) if int(pgid) in groups]


def _idle_cpu_share(folder: str, seconds: float) -> float:
    pids = _worker_pids(folder)
    before = {pid: _cpu_seconds(pid) for pid in pids}
    started = time.monotonic()
    time.sleep(seconds)
    used = sum(_cpu_seconds(pid) - before[pid] for pid in pids)
    return used / (time.monotonic() - started)


def _run_one(interval: str | None, rounds: int, idle_seconds: float) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="bench-embedded-") as folder:
        env = _platform_env(folder, interval)
        subprocess.run([sys.executable, MANAGE, "migrate", "--noinput", "-v", "0"], env=env, check=True)
        subprocess.run([sys.executable, MANAGE, "demo_data"], env=env, check=True, capture_output=True)
        port = _free_port()
        log_path = Path(folder) / "run.log"
        platform = platform_start(MANAGE, env, port, log_path)
        try:
            while f":{port}/" not in log_path.read_text():
                if platform.poll() is not None:
                    raise RuntimeError(f"run_platform stopped:\n{log_path.read_text()}")
                time.sleep(0.05)
            measured = subprocess.run(
                [sys.executable, __file__, "--measure", str(rounds)],
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )
            if measured.returncode != 0:
                raise RuntimeError(f"the measuring process failed:\n{measured.stderr}\n{log_path.read_text()}")
            figures: dict[str, object] = json.loads(measured.stdout.strip().splitlines()[-1])
            if idle_seconds:
                figures["idle_cpu"] = _idle_cpu_share(folder, idle_seconds)
        finally:
            os.killpg(platform.pid, signal.SIGINT)
            platform.wait(timeout=60)
    return figures


def _measure(rounds: int) -> dict[str, object]:
    """In a process of the platform's data folder: the rounds of VAE jobs and of no-op tasks."""
    import django

    django.setup()
    from django.contrib.auth import get_user_model

    from benchmarks.scratch import noop_round_trip
    from generation.models import Job
    from generation.services import job_submit

    user = get_user_model().objects.get(username="enduser")
    jobs: list[dict[str, float]] = []
    for index in range(WARM_UP + rounds):
        submitted = time.time()
        job = job_submit(user=user, kind="vae", params={"count": 1, "seed": index})
        stored = time.time()
        while job.status not in FINISHED:
            if time.time() - submitted > ROUND_TIMEOUT_SECONDS:
                raise RuntimeError(f"a VAE job was not finished within {ROUND_TIMEOUT_SECONDS:.0f} s")
            time.sleep(READ_EVERY_SECONDS)
            job.refresh_from_db(fields=["status", "started_at", "finished_at"])
        seen = time.time()
        if job.status != Job.Status.SUCCEEDED:
            raise RuntimeError(f"a VAE job ended {job.status}: {job.reason}")
        assert job.started_at is not None and job.finished_at is not None
        if index >= WARM_UP:
            jobs.append(
                {
                    "result": seen - submitted,
                    "submit": stored - submitted,
                    "wait": job.started_at.timestamp() - stored,
                    "compute": (job.finished_at - job.started_at).total_seconds(),
                    "after_compute": seen - job.finished_at.timestamp(),
                }
            )
    noops = [
        noop_round_trip(f"bench-noop-{index}", timeout=ROUND_TIMEOUT_SECONDS, every=READ_EVERY_SECONDS)
        for index in range(WARM_UP + rounds)
    ][WARM_UP:]
    return {"jobs": jobs, "noops": noops}


def _ms(values: list[float]) -> str:
    return f"p50 {statistics.median(values) * 1000:7.1f} ms   p95 {_percentile(values, 0.95) * 1000:7.1f} ms"


def main(argv: list[str] | None = None) -> int:
    rounds = int(os.environ.get("BENCH_EMBEDDED_ROUNDS", "30"))
    idle_seconds = float(os.environ.get("BENCH_EMBEDDED_IDLE_SECONDS", "30"))
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())} ({os.cpu_count()} cores)")
    print(f"{rounds} rounds each, after {WARM_UP} not counted; rows read every {READ_EVERY_SECONDS * 1000:.0f} ms")
    for label, interval in INTERVALS:
        figures = _run_one(interval, rounds, idle_seconds)
        jobs: list[dict[str, float]] = figures["jobs"]  # type: ignore[assignment]
        noops: list[float] = figures["noops"]  # type: ignore[assignment]
        print(f"broker polling interval {label}:")
        print(f"  VAE job, one image: submission → result   {_ms([j['result'] for j in jobs])}")
        print(f"    of which job_submit (checks, row, send)  {_ms([j['submit'] for j in jobs])}")
        print(f"    of which waiting for a worker            {_ms([j['wait'] for j in jobs])}")
        print(f"    of which compute (started → finished)    {_ms([j['compute'] for j in jobs])}")
        print(f"    result read after compute ended          {_ms([j['after_compute'] for j in jobs])}")
        print(f"  no-op task round trip                      {_ms(noops)}")
        if "idle_cpu" in figures:
            share = float(figures["idle_cpu"])  # type: ignore[arg-type]
            print(f"  idle worker processes, {idle_seconds:.0f} s            {share * 100:5.2f} % of one core")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(BASE_DIR))
    if len(sys.argv) == 3 and sys.argv[1] == "--measure":
        print(json.dumps(_measure(int(sys.argv[2]))))
    elif len(sys.argv) > 1:
        sys.exit("Options come from the environment: BENCH_EMBEDDED_ROUNDS, BENCH_EMBEDDED_IDLE_SECONDS.")
    else:
        sys.exit(main())

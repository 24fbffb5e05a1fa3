"""What the benchmarks that run apart from the configured platform share: Django set up on a database of their
own, a scratch PostgreSQL database next to the configured one, and the platform started in a data folder."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path


def django_setup(database_url: str, data_dir: str) -> None:
    """Set Django up in this process on ``database_url``, keeping its files in ``data_dir``."""
    os.environ["DATABASE_URL"] = database_url
    os.environ["GENAI_DATA_DIR"] = data_dir
    os.environ["DJANGO_SETTINGS_MODULE"] = "genai_platform.settings.base"
    os.environ.setdefault("GENAI_LOG_FORMAT", "text")
    import django

    django.setup()


def postgresql_scratch(url: str, suffix: str, *, template: str = "") -> tuple[str, Callable[[], None]]:
    """A new database on the server of ``url``, named after its database with ``suffix`` (one left over from an
    earlier run is dropped first), empty or a copy of the database at ``template`` (a URL on the same server):
    its URL, and the function that drops it."""
    from urllib.parse import urlsplit, urlunsplit

    import psycopg2

    parts = urlsplit(url)
    name = parts.path.lstrip("/") + suffix
    admin = psycopg2.connect(urlunsplit(parts._replace(path="/postgres")))
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        copy = f' TEMPLATE "{urlsplit(template).path.lstrip("/")}"' if template else ""
        cursor.execute(f'CREATE DATABASE "{name}"{copy}')

    def drop() -> None:
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()

    return urlunsplit(parts._replace(path=f"/{name}")), drop


def platform_start(manage: str, env: dict[str, str], port: int, log_path: Path) -> subprocess.Popen[bytes]:
    """``manage.py run_platform`` without beat on ``port``, in a session of its own, its output in ``log_path``."""
    with log_path.open("w") as log:
        return subprocess.Popen(
            [sys.executable, manage, "run_platform", "--port", str(port), "--no-beat"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


# ------------------------------------------------------------------------------
# A scratch platform for each benchmark run by benchmarks/run.py
# ------------------------------------------------------------------------------
# Names the database a benchmark process may use; run.py sets it, ``guard`` checks it.
SCRATCH_ENV = "GENAI_BENCH_SCRATCH_DATABASE"
# The Redis database (of the configured server) that benchmarks use for broker and cache; flushed before each.
REDIS_DB_ENV = "GENAI_BENCH_REDIS_DB"
REDIS_DB_DEFAULT = 7


class ScratchRefused(SystemExit):
    """A benchmark was about to run on a database that is not its scratch one."""


def noop_round_trip(task_id: str, *, timeout: float, every: float) -> float:
    """Seconds from sending the heartbeat task (a no-op beside one row written) to its row, read every ``every``
    seconds: the broker and worker's round trip with nothing else in it."""
    import time

    from genai_platform.models import WorkerHeartbeat
    from genai_platform.queues import Queue
    from genai_platform.tasks import heartbeat_task

    sent = time.perf_counter()
    heartbeat_task.apply_async(kwargs={"queue": Queue.DEFAULT.value}, queue=Queue.DEFAULT.value, task_id=task_id)
    while not WorkerHeartbeat.objects.filter(task_id=task_id).exists():
        if time.perf_counter() - sent > timeout:
            raise RuntimeError(f"the no-op task {task_id} was not done within {timeout:.0f} s")
        time.sleep(every)
    return time.perf_counter() - sent


def guard() -> None:
    """Refuse to go on unless Django is connected to the scratch database that run.py made for this benchmark."""
    from django.db import connection

    wanted = os.environ.get(SCRATCH_ENV, "")
    name = str(connection.settings_dict["NAME"])
    if not wanted or name != wanted:
        raise ScratchRefused(
            f"Refusing to run a benchmark on the database {name!r}: benchmarks run only on a scratch database of "
            "their own. Run them with `make bench` (benchmarks/run.py), which makes one for each and drops it after."
        )


def _redis_scratch(url: str) -> str:
    from urllib.parse import urlsplit, urlunsplit

    number = int(os.environ.get(REDIS_DB_ENV, str(REDIS_DB_DEFAULT)))
    return urlunsplit(urlsplit(url)._replace(path=f"/{number}"))


class ScratchPlatform:
    """Databases for the benchmarks of one run, next to the configured one and never it: a template migrated once,
    and for each benchmark a copy of it (PostgreSQL: ``CREATE DATABASE ... TEMPLATE``; SQLite: a copied file) with
    a data folder of its own and, with Redis, a flushed Redis database of its own number."""

    def __init__(self, root: Path, manage: str) -> None:
        self.root = root
        self.manage = manage
        self.url = os.environ.get("DATABASE_URL", "")
        self.postgresql = self.url.startswith(("postgres://", "postgresql://"))
        self.template_dir = root / "template"
        self.template_url = ""
        self.drops: list[Callable[[], None]] = []

    def _env(self, data_dir: Path, database_url: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CELERY_BROKER_URL")}
        env |= {"GENAI_DATA_DIR": str(data_dir), "DJANGO_SETTINGS_MODULE": "genai_platform.settings.base"}
        if database_url:
            env["DATABASE_URL"] = database_url
        redis_url = os.environ.get("REDIS_URL", "")
        if redis_url:
            env["REDIS_URL"] = _redis_scratch(redis_url)
        elif os.environ.get("CELERY_BROKER_URL"):
            env["CELERY_BROKER_URL"] = _redis_scratch(os.environ["CELERY_BROKER_URL"])
        return env

    def prepare(self) -> None:
        """Make and migrate the template."""
        if self.postgresql:
            self.template_url, drop = postgresql_scratch(self.url, "_bench_template")
            self.drops.append(drop)
        env = self._env(self.template_dir, self.template_url)
        subprocess.run([sys.executable, self.manage, "migrate", "--noinput", "-v", "0"], env=env, check=True)

    def for_benchmark(self, name: str) -> tuple[dict[str, str], Callable[[], None]]:
        """The environment of one benchmark's process (its own database, data folder and Redis database), and the
        function that drops its database after."""
        import shutil

        data_dir = self.root / name
        shutil.rmtree(data_dir, ignore_errors=True)
        data_dir.mkdir(parents=True)
        drop: Callable[[], None] = lambda: None  # noqa: E731 (SQLite: the file goes with the run's folder)
        if self.postgresql:
            url, drop = postgresql_scratch(self.url, f"_bench_{name}", template=self.template_url)
            database = url.rsplit("/", 1)[1]
        else:
            url = ""
            shutil.copyfile(self.template_dir / "db.sqlite3", data_dir / "db.sqlite3")
            database = str(data_dir / "db.sqlite3")
        env = self._env(data_dir, url)
        if "REDIS_URL" in env or "CELERY_BROKER_URL" in env:
            import redis

            redis.Redis.from_url(env.get("REDIS_URL") or env["CELERY_BROKER_URL"]).flushdb()
        env[SCRATCH_ENV] = database
        return env, drop

    def drop(self) -> None:
        for drop in reversed(self.drops):
            drop()
        self.drops.clear()

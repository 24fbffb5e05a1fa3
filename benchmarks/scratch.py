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


def postgresql_scratch(url: str, suffix: str) -> tuple[str, Callable[[], None]]:
    """A new, empty database on the server of ``url``, named after its database with ``suffix`` (one left over
    from an earlier run is dropped first): its URL, and the function that drops it."""
    from urllib.parse import urlsplit, urlunsplit

    import psycopg2

    parts = urlsplit(url)
    name = parts.path.lstrip("/") + suffix
    admin = psycopg2.connect(urlunsplit(parts._replace(path="/postgres")))
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        cursor.execute(f'CREATE DATABASE "{name}"')

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

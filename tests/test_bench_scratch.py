"""Benchmarks run only on a scratch database made for them: started any other way they refuse, with a sentence."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

from benchmarks.scratch import SCRATCH_ENV, ScratchRefused, guard

ROOT = Path(__file__).resolve().parent.parent


def test_the_guard_refuses_a_database_that_is_not_the_scratch_one_named_for_the_run(monkeypatch):
    monkeypatch.delenv(SCRATCH_ENV, raising=False)
    with pytest.raises(ScratchRefused, match="make bench"):
        guard()
    monkeypatch.setenv(SCRATCH_ENV, "genai_bench_something_else")
    with pytest.raises(ScratchRefused, match="scratch database"):
        guard()

    monkeypatch.setenv(SCRATCH_ENV, str(connection.settings_dict["NAME"]))
    guard()  # the database run.py made for this benchmark: on it goes


def test_a_benchmark_started_by_hand_on_the_configured_database_refuses_and_writes_nothing(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL")}
    env |= {"GENAI_DATA_DIR": str(tmp_path), "DJANGO_SETTINGS_MODULE": "genai_platform.settings.base"}
    env.pop(SCRATCH_ENV, None)

    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench_filing.py")],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert done.returncode != 0
    assert "Refusing to run a benchmark on the database" in done.stderr
    assert "Traceback" not in done.stderr
    # The configured (embedded) database was not even created, let alone written.
    assert not (tmp_path / "db.sqlite3").exists() or (tmp_path / "db.sqlite3").stat().st_size == 0

"""Writers and sealers in several processes: no gap, no fork, and the seals verify."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from audit import services
from audit.models import LogEntry
from audit.verification import log_verify

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

SCRIPT = Path(__file__).with_name("concurrent_writer.py")


def _database_url() -> str:
    params = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{Path(params['NAME']).resolve()}"
    password = f":{params['PASSWORD']}" if params.get("PASSWORD") else ""
    return f"postgres://{params['USER']}{password}@{params['HOST']}:{params['PORT'] or 5432}/{params['NAME']}"


def test_many_processes_write_and_seal_without_gaps(tmp_path):
    start = services.numbers_given_out()
    env = dict(os.environ)
    env.update(
        DATABASE_URL=_database_url(),
        DJANGO_SETTINGS_MODULE="genai_platform.settings.base",
        GENAI_DATA_DIR=str(settings.DATA_DIR),
        GENAI_AUDIT_ANCHOR_PATH=settings.AUDIT_ANCHOR_PATH,
        GENAI_AUDIT_SIGNING_KEY=settings.AUDIT_SIGNING_KEY,
        GENAI_AUDIT_TAG_KEY=settings.AUDIT_TAG_KEY,
        DJANGO_SECRET_KEY=settings.SECRET_KEY,
    )
    writers, per_writer = 4, 40
    procs = [
        subprocess.Popen(
            [sys.executable, str(SCRIPT), f"w{n}", str(per_writer)], env=env, stdout=subprocess.PIPE, text=True
        )
        for n in range(writers)
    ]
    outputs = [p.communicate(timeout=240)[0] for p in procs]
    assert [p.returncode for p in procs] == [0] * writers, outputs
    assert sum(int(out.strip()) for out in outputs) == writers * per_writer

    services.seals_make(block_size=8)
    end = services.numbers_given_out()
    seqs = list(LogEntry.objects.filter(seq__gt=start).order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(start + 1, end + 1))  # no gap, no duplicate
    assert LogEntry.objects.filter(seq__gt=start, event_type="generation.requested").count() == writers * per_writer
    assert not LogEntry.objects.filter(actor_username__endswith="-rolled-back").exists()
    # Each writer rolled back 6 records: PostgreSQL had given them numbers, sealed as void; SQLite had not.
    voids = LogEntry.objects.filter(seq__gt=start, event_type=services.VOID_EVENT_TYPE).count()
    assert voids == (writers * 6 if connection.vendor == "postgresql" else 0)
    result = log_verify()
    assert result.ok, result.summary()
    assert result.unsealed == 0

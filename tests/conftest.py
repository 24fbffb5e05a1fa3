"""Fixtures shared by the whole suite."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.test import Client

from genai_platform.settings.storage import s3_storage_setting

BASE_DIR = Path(__file__).resolve().parent.parent

# Variables that switch the platform off its embedded default; removed for embedded subprocesses.
SERVICE_VARIABLES = ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL")


@pytest.fixture(autouse=True)
def _migration_data(request: pytest.FixtureRequest) -> None:
    """Tests that use the database see the data the migrations load (role groups, risk taxonomy,
    safety thresholds): a transactional test earlier in the run flushes every table, and this puts
    the data back (a couple of queries when it is there).
    """
    marker = request.node.get_closest_marker("django_db")
    names = set(request.fixturenames)
    if "transactional_db" in names or (marker is not None and marker.kwargs.get("transaction")):
        request.getfixturevalue("transactional_db")
    elif "db" in names or marker is not None:
        request.getfixturevalue("db")
    else:
        return
    from django.contrib.auth.models import Group

    from filing.safety.seed import safety_data_ensure
    from genai_platform.roles import ROLE_PERMISSIONS, roles_sync

    safety_data_ensure()
    if Group.objects.filter(name__in=[r.value for r in ROLE_PERMISSIONS]).count() < len(ROLE_PERMISSIONS):
        roles_sync()


@pytest.fixture
def audit_log(request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    """The audit records written since the test started.

    The log's tables are append-only and outlive Django's flush between transactional tests, so a
    test looks only at records past the sequence number in force when it began.
    """
    request.getfixturevalue("db")
    from django.db.models import Max

    from audit.models import LogEntry

    start = LogEntry.objects.aggregate(m=Max("seq"))["m"] or 0
    return LogEntry.objects.filter(seq__gt=start)


@pytest.fixture
def embedded_env(tmp_path: Path) -> dict[str, str]:
    """Environment for a subprocess running the platform on its embedded default in ``tmp_path``."""
    env = {k: v for k, v in os.environ.items() if k not in SERVICE_VARIABLES and not k.startswith("DJANGO_")}
    env["GENAI_DATA_DIR"] = str(tmp_path / "data")
    env["DJANGO_SETTINGS_MODULE"] = "genai_platform.settings.base"
    env["PYTHONUNBUFFERED"] = "1"
    return env


@pytest.fixture
def python() -> str:
    return sys.executable


@pytest.fixture
def small_source_samples(settings):  # type: ignore[no-untyped-def]
    """Source safety checks of a few items, so that a test can judge them all: the platform's floor
    (``FILING_SOURCE_SAMPLE_FLOOR``) and the configured size (``corpus_source_sample_min``) lowered to 1."""
    from filing.safety.services import safety_threshold_set

    settings.FILING_SOURCE_SAMPLE_FLOOR = 1
    safety_threshold_set(key="corpus_source_sample_min", value=1, actor="test")


@pytest.fixture
def user_with_role(django_user_model):  # type: ignore[no-untyped-def]
    from genai_platform.roles import Role
    from generation.access import user_role_add

    def make(role: Role | None, username: str | None = None):  # type: ignore[no-untyped-def]
        name = username or (role.value if role else "norole")
        user = django_user_model.objects.create_user(username=name, password="pw-for-tests-123")
        if role:
            user_role_add(user=user, role=role)
        return user

    return make


@pytest.fixture
def client_for(user_with_role):  # type: ignore[no-untyped-def]
    """A logged-in test client for a user holding ``role``."""

    def make(role, username=None) -> Client:  # type: ignore[no-untyped-def]
        client = Client()
        client.force_login(user_with_role(role, username))
        return client

    return make


@pytest.fixture
def celery_worker_thread(transactional_db) -> Iterator[object]:  # type: ignore[no-untyped-def]
    """A real Celery worker, in a thread of this process, consuming every queue of the real broker."""
    from celery.contrib.testing.worker import start_worker

    from genai_platform.celery import app
    from genai_platform.queues import Queue

    with start_worker(
        app,
        pool="solo",
        concurrency=1,
        perform_ping_check=False,
        shutdown_timeout=20,
        queues=[q.value for q in Queue],
        loglevel="WARNING",
    ) as worker:
        yield worker


@pytest.fixture(scope="session")
def s3_server() -> Iterator[str]:
    """A real S3-compatible server on this machine: moto in server mode, a subprocess on a free port; its URL."""
    import socket
    import subprocess
    import time

    pytest.importorskip("moto", reason="moto[server] (requirements.txt) runs the S3-compatible server")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(  # noqa: S603  (this interpreter, fixed arguments)
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the moto S3 server did not start") from None
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def s3_bucket(s3_server: str) -> str:
    """A new, empty bucket on the test S3 server."""
    import uuid

    import boto3

    name = f"genai-{uuid.uuid4().hex[:16]}"
    boto3.client(
        "s3",
        endpoint_url=s3_server,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    ).create_bucket(Bucket=name)
    return name


@pytest.fixture
def s3_storage(settings, s3_server: str, s3_bucket: str) -> str:  # type: ignore[no-untyped-def]
    """Stored files go to a bucket of the test S3 server, configured as ``GENAI_S3_*`` would configure them; the
    bucket's name."""
    settings.S3_ENDPOINT_URL = s3_server
    settings.S3_REGION = "us-east-1"
    settings.S3_ACCESS_KEY_ID = "testing"
    settings.S3_SECRET_ACCESS_KEY = "testing"
    settings.S3_ADDRESSING_STYLE = "path"
    settings.STORAGES = {
        **settings.STORAGES,
        "default": s3_storage_setting(
            bucket=s3_bucket,
            endpoint_url=s3_server,
            region="us-east-1",
            access_key_id="testing",
            secret_access_key="testing",
        ),
    }
    return s3_bucket

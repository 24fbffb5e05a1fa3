"""Stored files in an S3-compatible bucket (a real moto server on this machine): outputs, copies without the visible
label, checkpoints, training samples, audit exports and filing packages are written to the bucket through the
storage API and served from it only through the views that check who asks; the audit anchor kept in the bucket."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest
from django.conf import settings as django_settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command
from django.test import Client

from audit import services as audit
from audit.models import Export, LogEntry, Seal
from audit.standalone import verify_export
from filing.exports import filing_export_request
from filing.models import FilingExport
from genai_platform.roles import Role
from generation import services
from generation.models import Job, TrainingEpoch, TrainingRun
from generation.services import running
from tests.generation.factories import checkpoint_tiny, service_serving

pytestmark = pytest.mark.integration


def _bucket_keys(bucket: str) -> set[str]:
    client = boto3.client(
        "s3",
        endpoint_url=django_settings.S3_ENDPOINT_URL,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket)
    return {item["Key"] for page in pages for item in page.get("Contents", [])}


def _local_files() -> list[Path]:
    root = Path(django_settings.MEDIA_ROOT)
    return [p for p in root.rglob("*") if p.is_file()] if root.is_dir() else []


def _wait_for(predicate: Callable[[], bool], timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def _body(response: Any) -> bytes:
    return b"".join(response.streaming_content)


# ------------------------------------------------------------------------------
# Configuration
# ------------------------------------------------------------------------------
def _default_storage_of(extra: dict[str, str], tmp_path: Path) -> dict[str, Any]:
    """``STORAGES["default"]`` of a process started with ``extra`` in its environment (and no other GENAI_S3_*)."""
    import os

    code = "import json, genai_platform.settings.base as s; print(json.dumps(s.STORAGES['default']))"
    environment = {k: v for k, v in os.environ.items() if not k.startswith("GENAI_S3_")} | extra
    environment["GENAI_DATA_DIR"] = str(tmp_path / "data")
    completed = subprocess.run(  # noqa: S603  (this interpreter, fixed code)
        [sys.executable, "-c", code], env=environment, capture_output=True, text=True, check=True, timeout=60
    )
    result: dict[str, Any] = json.loads(completed.stdout)
    return result


def test_the_environment_chooses_the_bucket_or_the_local_folder(tmp_path: Path) -> None:
    local = _default_storage_of({}, tmp_path)
    bucket = _default_storage_of(
        {
            "GENAI_S3_BUCKET": "genai-files",
            "GENAI_S3_ENDPOINT_URL": "http://127.0.0.1:9000",
            "GENAI_S3_ACCESS_KEY_ID": "key",
            "GENAI_S3_SECRET_ACCESS_KEY": "secret",
            "GENAI_S3_PREFIX": "/platform/",
        },
        tmp_path,
    )

    assert local == {"BACKEND": "django.core.files.storage.FileSystemStorage"}
    assert bucket["BACKEND"] == "storages.backends.s3.S3Storage"
    options = bucket["OPTIONS"]
    assert (options["bucket_name"], options["endpoint_url"], options["location"]) == (
        "genai-files",
        "http://127.0.0.1:9000",
        "platform",
    )
    assert (options["access_key"], options["secret_key"], options["default_acl"]) == ("key", "secret", None)


# ------------------------------------------------------------------------------
# Outputs, copies without the label and checkpoints, through a real worker
# ------------------------------------------------------------------------------
@pytest.fixture
def serving_from_bucket(s3_storage: str) -> str:
    """The tiny nets of the test suite, their checkpoints stored in the bucket; the service offers copies without
    the visible label."""
    for kind in ("vae", "lm"):
        checkpoint_tiny(kind)
    service = service_serving()
    service.unlabelled_delivery = True
    service.labelling_obligation_version = "2026-1"
    service.save()
    return s3_storage


def test_a_worker_loads_the_checkpoint_from_the_bucket_and_stores_the_outputs_there(
    celery_worker_thread: object, serving_from_bucket: str, user_with_role: Any
) -> None:
    bucket = serving_from_bucket
    before = set(_local_files())
    owner = user_with_role(Role.END_USER, "owner")
    services.labelling_obligation_set(user=owner, service=service_serving(), accepted=True)
    running._NET_CACHE.clear()  # the net must come from the bucket, not from an earlier test's load

    job = services.job_submit(user=owner, kind="vae", params={"count": 2, "seed": 4})
    assert _wait_for(lambda: Job.objects.get(pk=job.pk).is_finished)

    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED, job.reason
    keys = _bucket_keys(bucket)
    assert job.checkpoint.file.name in keys and job.checkpoint.sha256 in running._NET_CACHE
    outputs = list(job.outputs.order_by("index"))
    assert len(outputs) == 2
    for output in outputs:
        assert output.file.name in keys and output.file_unlabelled.name in keys
    assert set(_local_files()) == before, "nothing is written to the local folder"

    owner_client, other = Client(), Client()
    owner_client.force_login(owner)
    other.force_login(user_with_role(Role.END_USER, "someone-else"))
    output = outputs[0]
    with default_storage.open(output.file.name, "rb") as stored:
        labelled = stored.read()
    with default_storage.open(output.file_unlabelled.name, "rb") as stored:
        plain = stored.read()

    page = owner_client.get(f"/outputs/{output.produce_id}/file/?download=1")
    api = owner_client.get(f"/api/v1/outputs/{output.produce_id}/download/")
    unlabelled = owner_client.get(f"/api/v1/outputs/{output.produce_id}/download/?visible_label=0")

    assert page.status_code == 200 and _body(page) == labelled and labelled.startswith(b"\x89PNG")
    assert api.status_code == 200 and _body(api) == labelled
    assert unlabelled.status_code == 200 and _body(unlabelled) == plain != labelled
    assert other.get(f"/outputs/{output.produce_id}/file/?download=1").status_code == 404
    assert other.get(f"/api/v1/outputs/{output.produce_id}/download/").status_code == 404
    downloads = LogEntry.objects.filter(event_type="generation.output_downloaded", produce_id=output.produce_id)
    assert downloads.count() == 3


@pytest.mark.django_db
def test_a_checkpoint_stored_in_the_bucket_loads_and_a_changed_one_is_refused(s3_storage: str) -> None:
    checkpoint = checkpoint_tiny("vae")
    assert checkpoint.file.name in _bucket_keys(s3_storage)
    running._NET_CACHE.clear()

    net = running.net_load(checkpoint)
    job_like = type("JobLike", (), {"kind": "vae", "params": {"count": 2}, "seed": 1, "checkpoint": checkpoint})
    assert len(running.job_sample(job_like, net.net)) == 2  # type: ignore[arg-type]

    with default_storage.open(checkpoint.file.name, "rb") as stored:
        data = bytearray(stored.read())
    data[-1] ^= 0xFF
    default_storage.save(checkpoint.file.name, ContentFile(bytes(data)))  # the bucket overwrites the object
    running._NET_CACHE.clear()
    with pytest.raises(Exception, match="(?i)sha-?256|hash"):
        running.net_load(checkpoint)


@pytest.mark.django_db
def test_redirecting_downloads_sends_a_short_lived_presigned_url_after_the_check(
    serving_from_bucket: str, user_with_role: Any, settings: Any
) -> None:
    settings.DOWNLOAD_REDIRECT = True
    settings.DOWNLOAD_URL_SECONDS = 30
    owner = user_with_role(Role.END_USER, "owner")
    job = services.job_submit(user=owner, kind="lm", params={"tune": "测试调"})
    job = services.job_run(job_id=job.pk)
    assert job is not None and job.status == Job.Status.SUCCEEDED, job and job.reason
    output = job.outputs.get()
    client, other = Client(), Client()
    client.force_login(owner)
    other.force_login(user_with_role(Role.END_USER, "someone-else"))

    download = client.get(f"/outputs/{output.produce_id}/file/?download=1")
    inline = client.get(f"/outputs/{output.produce_id}/file/")

    assert download.status_code == 302
    location = download["Location"]
    assert location.startswith(f"{settings.S3_ENDPOINT_URL}/{serving_from_bucket}/{output.file.name}?")
    assert "X-Amz-Expires=30" in location and "response-content-disposition=attachment" in location
    with default_storage.open(output.file.name, "rb") as stored:
        assert _body(inline) == stored.read()  # shown inside a page: streamed from the platform's own origin
    import urllib.request

    with urllib.request.urlopen(location, timeout=10) as fetched:  # noqa: S310  (the local test server)
        assert fetched.read() == output.file.open("rb").read()
        assert fetched.headers["Content-Disposition"].startswith("attachment")
    assert other.get(f"/outputs/{output.produce_id}/file/?download=1").status_code == 404
    downloads = LogEntry.objects.filter(event_type="generation.output_downloaded", produce_id=output.produce_id)
    assert downloads.count() == 1


# ------------------------------------------------------------------------------
# Training samples
# ------------------------------------------------------------------------------
@pytest.mark.django_db
def test_training_samples_are_stored_in_the_bucket_and_shown_to_operators_only(
    s3_storage: str, client_for: Any
) -> None:
    run = TrainingRun.objects.create(kind="gan", epochs=1)
    epoch = TrainingEpoch.objects.create(
        run=run, epoch=1, seconds=1.0, samples=ContentFile(b"\x89PNG-samples", name=f"run{run.pk}-epoch1.png")
    )
    assert epoch.samples.name in _bucket_keys(s3_storage)

    operator = client_for(Role.OPERATOR, "op")
    shown = operator.get(f"/ops/training/epochs/{epoch.pk}/samples.png")
    refused = client_for(Role.END_USER, "ella").get(f"/ops/training/epochs/{epoch.pk}/samples.png")

    assert shown.status_code == 200 and _body(shown) == b"\x89PNG-samples"
    assert refused.status_code in (302, 403, 404)


# ------------------------------------------------------------------------------
# Audit exports and the anchor
# ------------------------------------------------------------------------------
def test_an_audit_export_is_written_to_the_bucket_and_served_from_it(
    celery_worker_thread: object, s3_storage: str, client_for: Any, settings: Any, tmp_path: Path
) -> None:
    settings.AUDIT_ANCHOR_PATH = f"s3://{s3_storage}/audit/last-seal.json"
    first = None
    for i in range(12):
        entry = audit.generation_event(
            event_type="generation.requested", actor_username=f"u{i}", payload={"job_id": str(i)}
        )
        first = first or entry.seq
    audit.seals_make(block_size=5)
    settings.AUDIT_EXPORT_STREAM_MAX_ROWS = 3  # so that this export goes to the worker
    auditor = client_for(Role.AUDITOR, "auditor")

    response = auditor.post("/audit/exports/new/", {"format": "csv", "seq_from": str(first), "pseudonymise": "0"})

    assert response.status_code == 302
    export = Export.objects.get()
    assert _wait_for(lambda: Export.objects.get().status in ("done", "failed"))
    export.refresh_from_db()
    assert export.status == "done", export.error
    assert export.file_name in _bucket_keys(s3_storage)
    body = _body(auditor.get(f"/audit/exports/{export.id}/download/"))
    manifest = auditor.get(f"/audit/exports/{export.id}/manifest.json").json()
    (tmp_path / "f.csv").write_bytes(body)
    (tmp_path / "m.json").write_text(json.dumps(manifest))
    report = verify_export.verify(tmp_path / "f.csv", tmp_path / "m.json", audit.public_key_b64())
    assert report.ok, report.problems
    assert client_for(Role.AUDITOR, "another-auditor").get(f"/audit/exports/{export.id}/download/").status_code == 404
    assert client_for(Role.END_USER, "ella").get(f"/audit/exports/{export.id}/download/").status_code in (302, 403)


@pytest.mark.django_db(transaction=True)
def test_audit_verify_checks_the_log_against_the_anchor_kept_in_the_bucket(s3_storage: str, settings: Any) -> None:
    settings.AUDIT_ANCHOR_PATH = f"s3://{s3_storage}/audit/last-seal.json"
    for i in range(6):
        audit.generation_event(event_type="generation.requested", actor_username=f"u{i}", payload={"job_id": str(i)})
    newest = audit.seals_make(block_size=3)[-1]

    assert "audit/last-seal.json" in _bucket_keys(s3_storage)
    anchor = audit.anchor_read()
    assert anchor is not None and (anchor["number"], anchor["seal_hash"]) == (newest.number, newest.seal_hash)
    out = io.StringIO()
    call_command("audit_verify", "--no-record", stdout=out)
    assert out.getvalue().startswith("OK:"), out.getvalue()

    # The anchor never moves backwards: an older seal does not replace it.
    audit.anchor_write(Seal.objects.order_by("number").first())
    assert audit.anchor_read() == anchor

    # A copy in the bucket that names a later seal than the database holds (the tail was cut) fails the check.
    client = boto3.client(
        "s3",
        endpoint_url=settings.S3_ENDPOINT_URL,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    later = dict(anchor, number=anchor["number"] + 1)
    client.put_object(Bucket=s3_storage, Key="audit/last-seal.json", Body=json.dumps(later).encode())
    with pytest.raises(CommandError) as failed:
        call_command("audit_verify", "--no-record")
    assert "kept outside the database" in str(failed.value)

    # Put back, the bucket's anchor agrees with the log again.
    client.put_object(Bucket=s3_storage, Key="audit/last-seal.json", Body=json.dumps(anchor).encode())
    call_command("audit_verify", "--no-record", stdout=io.StringIO())


# ------------------------------------------------------------------------------
# Filing packages
# ------------------------------------------------------------------------------
def test_a_filing_package_is_written_to_the_bucket_and_served_to_who_may_view_it(
    celery_worker_thread: object, s3_storage: str, client_for: Any, user_with_role: Any
) -> None:
    service = service_serving()
    operator = user_with_role(Role.OPERATOR, "exporter")

    export = filing_export_request(service=service, actor=operator)
    assert _wait_for(lambda: FilingExport.objects.get(pk=export.pk).status not in ("queued", "running"), 120)

    export.refresh_from_db()
    assert export.status == "done", export.error
    assert export.file.name in _bucket_keys(s3_storage)
    client = Client()
    client.force_login(operator)
    download = client.get(f"/admin/filing/filingexport/{export.pk}/download/")
    assert download.status_code == 200
    body = _body(download)
    import hashlib

    assert hashlib.sha256(body).hexdigest() == export.sha256
    assert client_for(Role.END_USER, "ella").get(f"/admin/filing/filingexport/{export.pk}/download/").status_code in (
        302,
        403,
    )

"""`manage.py backup` and `manage.py restore`: a platform with a job, its output and a sealed log, backed up and
restored into a fresh database and storage, on the database the suite runs on (SQLite, or PostgreSQL when
``DATABASE_URL`` names one: then each installation gets a database of its own, created here).

Each installation is a set of processes with its own environment, as on a real host: the same keys, its own data
folder and database.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

pytestmark = [pytest.mark.integration]

BASE_DIR = Path(__file__).resolve().parent.parent
_DATABASE_URL = os.environ.get("DATABASE_URL", "")
_ON_POSTGRESQL = _DATABASE_URL.startswith(("postgres://", "postgresql://"))
# The same keys on every installation, as an operator keeps them apart from the backups.
_KEYS = {
    "DJANGO_SECRET_KEY": "backup-test-" + "k" * 50,
    "GENAI_LABEL_SIGNING_KEY": base64.b64encode(bytes(range(32))).decode(),
    "GENAI_AUDIT_SIGNING_KEY": base64.b64encode(bytes(range(32, 64))).decode(),
    "GENAI_AUDIT_TAG_KEY": base64.b64encode(bytes(range(64, 96))).decode(),
}

_MAKE_PLATFORM = """
import json, django
django.setup()
from django.contrib.auth import get_user_model
from audit import services as audit
from generation import services
from genai_platform.roles import Role
from generation.access import user_role_add
from tests.generation.factories import checkpoint_tiny, service_serving
user = get_user_model().objects.create_user(username="maker", password="pw-123456-long")
user_role_add(user=user, role=Role.END_USER)
service_serving()
checkpoint_tiny("gan")
job = services.job_submit(user=user, kind="gan", params={"digit": 3, "count": 1})
job = services.job_run(job_id=job.pk)
assert job.status == "succeeded", job.reason
audit.seals_make()
output = job.outputs.get()
print(json.dumps({"produce_id": output.produce_id, "sha256": output.sha256}))
"""

_MORE_RECORDS = """
import django
django.setup()
from audit import services as audit
for n in range(3):
    audit.audit_event(event_type="audit.legal_hold_released", actor_username="system:test", payload={"hold_id": n})
audit.seals_make()
"""

# Writes records for argv[1] seconds, sealing every 20 (and so moving the anchor), then prints how many.
_WRITER = """
import sys, time, django
django.setup()
from audit import services as audit
end, n = time.monotonic() + float(sys.argv[1]), 0
while time.monotonic() < end:
    audit.audit_event(event_type="audit.legal_hold_released", actor_username="system:test", payload={"hold_id": n})
    n += 1
    if n % 20 == 0:
        audit.seals_make()
print(n)
"""

_DOWNLOAD_AND_VERIFY = """
import json, sys, django
django.setup()
from django.test import Client
from generation.labels import verify_file
client = Client()
# Through the sign-in page: the restored password hash works, and the lockout backend sees a request.
signed_in = client.post("/accounts/login/", {"username": "maker", "password": "pw-123456-long"})
assert signed_in.status_code == 302, signed_in.status_code
response = client.get(f"/outputs/{sys.argv[1]}/file/?download=1")
data = b"".join(response.streaming_content) if response.streaming else response.content
result = verify_file(data, filename="output.png")
print(json.dumps({"status": response.status_code, "verdict": result.verdict.value, "produce_id": result.produce_id}))
"""

_APPEND_ONLY = """
import django
django.setup()
from django.db import DatabaseError
from audit.models import LogEntry
try:
    LogEntry.objects.filter(seq=1).update(actor_username="someone else")
except DatabaseError:
    print("refused")
else:
    print("changed")
"""


def _psql(admin_url: str, sql: str) -> None:
    subprocess.run(["psql", admin_url, "-v", "ON_ERROR_STOP=1", "-qc", sql], check=True, capture_output=True)


class Installation:
    """One installation of the platform: a data folder and a database of its own, and the keys of all."""

    def __init__(self, root: Path, name: str, databases: list[str]) -> None:
        self.data_dir = root / name
        self.env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "CELERY_BROKER_URL")}
        self.env |= _KEYS | {
            "GENAI_DATA_DIR": str(self.data_dir),
            "DJANGO_SETTINGS_MODULE": "genai_platform.settings.base",
            "PYTHONPATH": str(BASE_DIR),
        }
        if _ON_POSTGRESQL:
            parts = urlsplit(_DATABASE_URL)
            database = f"{parts.path.lstrip('/')}_bk_{name}_{uuid.uuid4().hex[:8]}"
            _psql(_admin_url(), f'CREATE DATABASE "{database}"')
            databases.append(database)
            self.env["DATABASE_URL"] = urlunsplit(parts._replace(path=f"/{database}"))
        else:
            self.env.pop("DATABASE_URL", None)

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [sys.executable, *args], cwd=BASE_DIR, env=self.env, capture_output=True, text=True, timeout=300
        )
        if check and result.returncode != 0:
            raise AssertionError(f"{args[:2]} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
        return result

    def manage(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.run("manage.py", *args, check=check)

    @property
    def anchor(self) -> Path:
        return self.data_dir / "audit" / "last-seal.json"


def _admin_url() -> str:
    return urlunsplit(urlsplit(_DATABASE_URL)._replace(path="/postgres"))


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:  # type: ignore[type-arg]
    """A platform with a job, its output and a sealed log, its backup, and how to make more installations."""
    root = tmp_path_factory.mktemp("backup")
    databases: list[str] = []

    def installation(name: str) -> Installation:
        return Installation(root, name, databases)

    source = installation("source")
    source.manage("migrate", "-v", "0")
    output = json.loads(source.run("-c", _MAKE_PLATFORM).stdout.strip().splitlines()[-1])
    backup = root / "backup.tar.gz"
    source.manage("backup", str(backup))
    try:
        yield {"root": root, "source": source, "backup": backup, "output": output, "installation": installation}
    finally:
        for database in databases:
            _psql(_admin_url(), f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def _unpacked(made: dict, name: str) -> Path:  # type: ignore[type-arg]
    folder = made["root"] / name
    shutil.unpack_archive(made["backup"], folder)
    return folder


def test_a_backup_restores_into_a_fresh_installation_whose_log_downloads_and_labels_verify(made):  # type: ignore[no-untyped-def]
    manifest = json.loads((_unpacked(made, "look") / "manifest.json").read_text())
    assert manifest["database"]["vendor"] == ("postgresql" if _ON_POSTGRESQL else "sqlite")
    assert manifest["audit"]["last_sealed_seq"] > 0 and manifest["audit"]["anchor"] == "audit/last-seal.json"
    stored = [name for name in manifest["files"] if name.startswith("media/outputs/")]
    assert stored, "the output's file"
    assert any(name.startswith("media/checkpoints/") for name in manifest["files"])

    # given a fresh installation: an empty database and data folder
    fresh = made["installation"]("fresh")

    # when the backup is restored into it
    restored = fresh.manage("restore", str(made["backup"]))

    # then the log verifies, the anchor came back, the output downloads and its label is genuine
    assert "Missing stored file" not in restored.stderr and "Warning" not in restored.stderr
    fresh.manage("migrate", "-v", "0")
    verified = fresh.manage("audit_verify")
    assert verified.stdout.startswith("OK"), verified.stdout
    assert json.loads(fresh.anchor.read_text()) == json.loads(made["source"].anchor.read_text())
    assert fresh.run("-c", _APPEND_ONLY).stdout.strip() == "refused", "the append-only triggers came back"
    download = json.loads(fresh.run("-c", _DOWNLOAD_AND_VERIFY, made["output"]["produce_id"]).stdout)
    assert download == {"status": 200, "verdict": "genuine", "produce_id": made["output"]["produce_id"]}


def test_a_platform_on_a_bucket_is_backed_up_and_restored_into_another_bucket(made, s3_server):  # type: ignore[no-untyped-def]
    import boto3

    client = boto3.client(
        "s3", endpoint_url=s3_server, region_name="us-east-1", aws_access_key_id="t", aws_secret_access_key="t"
    )

    def keys(bucket: str) -> set[str]:
        return {item["Key"] for item in client.list_objects_v2(Bucket=bucket).get("Contents", [])}

    def on_bucket(name: str) -> tuple[Installation, str]:
        installation, bucket = made["installation"](name), f"backup-{name}-{uuid.uuid4().hex[:8]}"
        client.create_bucket(Bucket=bucket)
        installation.env |= {
            "GENAI_S3_BUCKET": bucket,
            "GENAI_S3_ENDPOINT_URL": s3_server,
            "GENAI_S3_ACCESS_KEY_ID": "t",
            "GENAI_S3_SECRET_ACCESS_KEY": "t",
        }
        return installation, bucket

    # given a platform whose stored files are in a bucket
    source, source_bucket = on_bucket("s3-source")
    source.manage("migrate", "-v", "0")
    output = json.loads(source.run("-c", _MAKE_PLATFORM).stdout.strip().splitlines()[-1])
    stored = keys(source_bucket)
    assert any(key.startswith("outputs/") for key in stored) and any(key.startswith("checkpoints/") for key in stored)

    # when it is backed up, and restored into a fresh installation with an empty bucket of its own
    backup = made["root"] / "on-a-bucket.tar.gz"
    source.manage("backup", str(backup))
    fresh, fresh_bucket = on_bucket("s3-fresh")
    fresh.manage("restore", str(backup))

    # then the backup held every object, the new bucket holds them all, and the output downloads from it, genuine
    manifest = json.loads(
        (_unpacked({"root": made["root"], "backup": backup}, "s3-look") / "manifest.json").read_text()
    )
    assert {name.removeprefix("media/") for name in manifest["files"] if name.startswith("media/")} == stored
    assert keys(fresh_bucket) == stored
    assert not (source.data_dir / "media").exists() and not (fresh.data_dir / "media").exists()
    download = json.loads(fresh.run("-c", _DOWNLOAD_AND_VERIFY, output["produce_id"]).stdout)
    assert download == {"status": 200, "verdict": "genuine", "produce_id": output["produce_id"]}


def test_a_backup_older_than_the_anchor_here_is_reported_as_a_cut_log(made):  # type: ignore[no-untyped-def]
    # given a host whose log went on after the backup: more records, sealed, and its anchor moved on
    host = made["installation"]("host")
    host.manage("migrate", "-v", "0")
    later = made["installation"]("later")
    later.manage("restore", str(made["backup"]))
    later.run("-c", _MORE_RECORDS)
    ahead = json.loads(later.anchor.read_text())
    host.anchor.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(later.anchor, host.anchor)

    # when the older backup is restored on that host
    restored = host.manage("restore", str(made["backup"]))

    # then the restore warns, the anchor does not move back, and audit_verify names the cut
    assert f"names seal {ahead['number']}" in restored.stderr
    assert json.loads(host.anchor.read_text()) == ahead
    verified = host.manage("audit_verify", "--no-record", check=False)
    assert verified.returncode == 1
    assert "tail cut" in verified.stderr and f"seal {ahead['number']}" in verified.stderr


def test_a_backup_taken_while_records_are_written_and_sealed_restores_to_a_log_that_verifies(made):  # type: ignore[no-untyped-def]
    # given an installation whose log is written and sealed while the backup runs
    busy = made["installation"]("busy")
    busy.manage("restore", str(made["backup"]))
    writer = subprocess.Popen(
        [sys.executable, "-c", _WRITER, "12"], cwd=BASE_DIR, env=busy.env, stdout=subprocess.PIPE, text=True
    )
    try:
        # when it is backed up in the middle of that
        backup = made["root"] / "busy.tar.gz"
        busy.manage("backup", str(backup))
    finally:
        written = int(writer.communicate(timeout=120)[0].split()[-1])
    assert writer.returncode == 0 and written > 0

    # then the restored copy is one consistent state: its log, seals and anchor verify
    copy = made["installation"]("busy-copy")
    copy.manage("restore", str(backup))
    verified = copy.manage("audit_verify", "--no-record")
    assert verified.stdout.startswith("OK"), verified.stdout


def test_restore_refuses_an_installation_with_data(made):  # type: ignore[no-untyped-def]
    result = made["source"].manage("restore", str(made["backup"]), check=False)

    assert result.returncode == 1
    assert "already has users, jobs or audit records" in result.stderr
    assert "Traceback" not in result.stderr


def test_restore_refuses_keys_that_cannot_verify_the_backup(made):  # type: ignore[no-untyped-def]
    # given an installation set up with the keys of the backup (one installation for the three cases: a refused
    # restore changes nothing, which the last step checks)
    target = made["installation"]("other-keys")
    target.manage("migrate", "-v", "0")
    own_keys = dict(target.env)

    for variable, message in (
        ("GENAI_AUDIT_TAG_KEY", "tagged with another key"),
        ("GENAI_AUDIT_SIGNING_KEY", "sealed with another key"),
        ("GENAI_LABEL_SIGNING_KEY", "labelled with another key"),
    ):
        # when it holds another key of one kind and the backup is restored
        target.env = own_keys | {variable: base64.b64encode(bytes(range(100, 132))).decode()}
        result = target.manage("restore", str(made["backup"]), check=False)

        # then the restore is refused with the reason
        assert result.returncode == 1, variable
        assert message in result.stderr and "Traceback" not in result.stderr, (variable, result.stderr)

    # and the installation is as it was: still empty, so the backup restores with the right keys
    target.env = own_keys
    target.manage("restore", str(made["backup"]))
    assert target.manage("audit_verify", "--no-record").stdout.startswith("OK")


def test_restore_refuses_a_backup_whose_hash_does_not_match(made):  # type: ignore[no-untyped-def]
    folder = _unpacked(made, "damaged")
    manifest = json.loads((folder / "manifest.json").read_text())
    output = next(name for name in manifest["files"] if name.startswith("media/outputs/"))
    (folder / output).write_bytes((folder / output).read_bytes() + b"x")
    fresh = made["installation"]("damaged-target")

    result = fresh.manage("restore", str(folder), check=False)

    assert result.returncode == 1
    assert f"the SHA-256 of {output} does not match" in result.stderr
    assert not (fresh.data_dir / output).exists(), "nothing was restored"


def test_restore_refuses_a_backup_whose_file_and_manifest_were_both_rewritten(made):  # type: ignore[no-untyped-def]
    folder = _unpacked(made, "rewritten")
    manifest = json.loads((folder / "manifest.json").read_text())
    output = next(name for name in manifest["files"] if name.startswith("media/outputs/"))
    (folder / output).write_bytes((folder / output).read_bytes() + b"x")
    manifest["files"][output]["sha256"] = hashlib.sha256((folder / output).read_bytes()).hexdigest()
    (folder / "manifest.json").write_text(json.dumps(manifest))
    fresh = made["installation"]("rewritten-target")

    result = fresh.manage("restore", str(folder), check=False)

    assert result.returncode == 1
    assert "signature does not verify" in result.stderr
    assert not (fresh.data_dir / output).exists(), "nothing was restored"


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda folder: (folder / "manifest.json").write_text("{not json"), "cannot be read"),
        (lambda folder: (folder / "manifest.json").write_text('{"format": "other"}'), "not a backup manifest"),
        (lambda folder: (folder / "manifest.json").unlink(), "holds no manifest.json"),
        (lambda folder: shutil.rmtree(folder / "database"), "is missing"),
    ],
)
def test_restore_of_a_damaged_backup_ends_in_a_sentence(made, damage, message):  # type: ignore[no-untyped-def]
    folder = _unpacked(made, f"bad-{uuid.uuid4().hex[:6]}")
    damage(folder)

    result = made["installation"](f"t-{uuid.uuid4().hex[:6]}").manage("restore", str(folder), check=False)

    assert result.returncode == 1 and message in result.stderr
    assert "Traceback" not in result.stderr


def test_backup_and_restore_of_paths_that_do_not_work_end_in_a_sentence(made, tmp_path):  # type: ignore[no-untyped-def]
    source = made["source"]
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("")
    cases = [
        (("backup", str(tmp_path / "no" / "such" / "folder")), "does not exist"),
        (("backup", str(not_a_folder)), "is a file, not a folder"),
        (("restore", str(tmp_path / "missing.tar.gz")), "does not exist"),
        (("restore", str(not_a_folder)), "not a readable backup archive"),
        (("backup", str(source.data_dir / "media" / "backups")), "is inside the stored files"),
        # a folder nobody may create, root included
        (("backup", "/proc/genai-backup"), "Cannot write the backup"),
    ]
    for args, message in cases:
        result = source.manage(*args, check=False)
        assert result.returncode == 1, args
        assert message in result.stderr and "Traceback" not in result.stderr, (args, result.stderr)

    # an installation whose database was never set up has nothing to back up
    empty = made["installation"]("never-migrated")
    result = empty.manage("backup", str(tmp_path), check=False)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert ("There is no database" if not _ON_POSTGRESQL else "cannot be read") in result.stderr, result.stderr
    assert not list(tmp_path.glob("genai-backup-*")), "no half-written backup is left"


def test_restore_with_force_replaces_an_installation_with_data(made):  # type: ignore[no-untyped-def]
    # given the source installation, which has data (last: the other tests use it as it was backed up)
    source = made["source"]

    # when the backup is restored over it with --force
    restored = source.manage("restore", "--force", str(made["backup"]))

    # then its log still verifies and the output still downloads with a genuine label
    assert "Restored the backup" in restored.stdout
    assert source.manage("audit_verify", "--no-record").stdout.startswith("OK")
    download = json.loads(source.run("-c", _DOWNLOAD_AND_VERIFY, made["output"]["produce_id"]).stdout)
    assert download["status"] == 200 and download["verdict"] == "genuine"

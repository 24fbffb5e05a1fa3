"""Restoring a backup into an empty installation, after checking its hashes, its signature and the keys."""

from __future__ import annotations

import hashlib
import json
import shutil
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import connection, models

from audit import services as audit
from genai_platform.management.backups.database import postgresql_restore, sqlite_restore
from genai_platform.management.backups.manifest import (
    MEDIA_DIR,
    BackupError,
    manifest_check,
    sha256_file,
    signature_check,
    storage_is_local,
)
from generation.labels import signing as label_signing


@dataclass
class RestoreReport:
    manifest: dict[str, Any]
    files: int = 0
    # The anchor here, when it names a later seal than the restored log holds: audit_verify reports the cut.
    anchor_ahead: dict[str, Any] | None = None
    missing_files: list[str] = field(default_factory=list)


def _source_open(source: Path, scratch: Path) -> Path:
    """The backup folder: ``source`` itself, or ``source`` (an archive) unpacked into ``scratch``."""
    if source.is_dir():
        return source
    if not source.exists():
        raise BackupError(f"{source} does not exist.")
    try:
        with tarfile.open(source) as tar:
            tar.extractall(scratch, filter="data")
    except (tarfile.TarError, OSError) as exc:
        raise BackupError(f"{source} is not a readable backup archive ({exc}).") from None
    return scratch


def _table_has_rows(table: str) -> bool:
    if table not in connection.introspection.table_names():
        return False
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT 1 FROM {connection.ops.quote_name(table)} LIMIT 1")  # noqa: S608 (a model's table)
        return cursor.fetchone() is not None


def installation_has_data() -> bool:
    """Whether the configured database holds anything a restore would destroy: users, jobs or audit records.

    A database that was only migrated (its role groups and safety data loaded) counts as empty.
    """
    tables = [
        apps.get_model(settings.AUTH_USER_MODEL)._meta.db_table,
        apps.get_model("generation", "Job")._meta.db_table,
        apps.get_model("audit", "LogEntry")._meta.db_table,
    ]
    return any(_table_has_rows(table) for table in tables)


def _keys_check(manifest: dict[str, Any]) -> None:
    wanted = manifest.get("key_ids") or {}
    if wanted.get("audit") and wanted["audit"] not in audit.public_keys():
        raise BackupError(
            "The audit log of this backup was sealed with another key: set GENAI_AUDIT_SIGNING_KEY to the key in use "
            "when the backup was made (or list its public key in GENAI_AUDIT_PREVIOUS_PUBLIC_KEYS)."
        )
    if wanted.get("audit_tag") and wanted["audit_tag"] != audit.tag_key_id():
        raise BackupError(
            "The audit records of this backup were tagged with another key: set GENAI_AUDIT_TAG_KEY to the key in "
            "use when the backup was made, or the records not yet sealed will not verify."
        )
    if wanted.get("label") and wanted["label"] not in label_signing.public_keys():
        raise BackupError(
            "The outputs of this backup were labelled with another key: set GENAI_LABEL_SIGNING_KEY to the key in "
            "use when the backup was made, or their labels will not verify."
        )


def _stored_sha256(name: str) -> str | None:
    """The SHA-256 of the stored file ``name`` in the default storage (a bucket), or ``None`` when it holds none."""
    digest = hashlib.sha256()
    try:
        with default_storage.open(name, "rb") as f:
            while chunk := f.read(1024 * 1024):
                digest.update(chunk)
    except FileNotFoundError:
        return None
    return digest.hexdigest()


def _media_check(folder: Path, names: list[str], *, force: bool) -> None:
    if force:
        return
    media_root = Path(settings.MEDIA_ROOT)
    for name in names:
        stored = Path(name).relative_to(MEDIA_DIR)
        if storage_is_local():
            here = media_root / stored
            other = here.exists() and sha256_file(here) != sha256_file(folder / name)
        else:
            here, sha = Path(stored), _stored_sha256(stored.as_posix())
            other = sha is not None and sha != sha256_file(folder / name)
        if other:
            raise BackupError(
                f"{here} already exists with other content; restore into an empty installation, or give --force."
            )


def _media_put(folder: Path, names: list[str]) -> None:
    """Put the backup's stored files in place: under MEDIA_ROOT, or into the bucket through the storage API."""
    media_root = Path(settings.MEDIA_ROOT)
    for name in names:
        stored = Path(name).relative_to(MEDIA_DIR)
        if storage_is_local():
            dest = media_root / stored
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(folder / name, dest)
            continue
        if default_storage.exists(stored.as_posix()):
            default_storage.delete(stored.as_posix())
        with (folder / name).open("rb") as source:
            default_storage.save(stored.as_posix(), File(source))


def _files_missing() -> list[str]:
    """Names the restored database gives to stored files that the storage does not hold."""
    missing: list[str] = []
    for model in apps.get_models():
        for f in model._meta.get_fields():
            if isinstance(f, models.FileField):
                names = model._default_manager.exclude(**{f.name: ""}).values_list(f.name, flat=True)
                missing.extend(name for name in names.iterator() if name and not default_storage.exists(name))
    return missing


def restore(*, source: Path, force: bool = False) -> RestoreReport:
    """Restore the backup at ``source`` into the configured database, MEDIA_ROOT and anchor.

    Refuses (``BackupError``) before changing anything when a hash does not match the manifest or the manifest's
    signature does not verify, when the backup is of another database vendor, when the configured keys cannot
    verify its log or labels, and, unless ``force``, when the installation already has data or a stored file with
    other content.
    """
    with tempfile.TemporaryDirectory(prefix="genai-restore-") as scratch:
        folder = _source_open(source, Path(scratch))
        manifest = manifest_check(folder)
        vendor = manifest["database"].get("vendor")
        if vendor != connection.vendor:
            raise BackupError(
                f"This is a backup of a {vendor} database; the installation here uses {connection.vendor}."
            )
        _keys_check(manifest)
        signature_check(manifest)
        if not force and installation_has_data():
            raise BackupError(
                "The database here already has users, jobs or audit records; restore into an empty installation, "
                "or give --force to replace them."
            )
        media_names = sorted(name for name in manifest["files"] if name.startswith(f"{MEDIA_DIR}/"))
        _media_check(folder, media_names, force=force)

        if vendor == "sqlite":
            sqlite_restore(folder, manifest)
        else:
            postgresql_restore(folder, manifest)
        _media_put(folder, media_names)
        report = RestoreReport(manifest=manifest, files=len(media_names))
        anchor_name = manifest["audit"].get("anchor")
        if anchor_name:
            audit.anchor_restore(json.loads((folder / anchor_name).read_text()))
    here = audit.anchor_read()
    if here is not None and int(here.get("number", 0)) > int(manifest["audit"].get("last_seal_number") or 0):
        report.anchor_ahead = here
    report.missing_files = _files_missing()
    return report

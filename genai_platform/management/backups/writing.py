"""Making a backup: the anchor, then one snapshot of the database, then the stored files and the manifest."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
import tomllib
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import DatabaseError, connection
from django.utils import timezone

from audit import services as audit
from genai_platform.management.backups.database import postgresql_snapshot, sqlite_snapshot
from genai_platform.management.backups.manifest import (
    ANCHOR_FILE,
    FORMAT,
    FORMAT_VERSION,
    MANIFEST,
    MEDIA_DIR,
    POSTGRESQL_FILE,
    SQLITE_FILE,
    BackupError,
    files_under,
    key_ids,
    manifest_sign,
    sha256_file,
    storage_is_local,
    stored_names,
)


def _platform_version() -> dict[str, str]:
    try:
        version = tomllib.loads((Path(settings.BASE_DIR) / "pyproject.toml").read_text())["project"]["version"]
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        version = ""
    commit = os.environ.get("GENAI_COMMIT", "")
    if not commit:
        try:
            commit = subprocess.run(
                ["git", "rev-parse", "HEAD"], cwd=settings.BASE_DIR, capture_output=True, text=True, timeout=10
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            commit = ""
    return {"version": version, "commit": commit}


def _target_prepare(target: Path) -> tuple[Path, Path | None]:
    """The directory to write the backup into, and the archive to make of it (``None``: keep the directory)."""
    name = target.name
    archive = name.endswith((".tar", ".tar.gz", ".tgz"))
    if target.resolve().is_relative_to(Path(settings.MEDIA_ROOT).resolve()):
        raise BackupError(f"{target} is inside the stored files ({settings.MEDIA_ROOT}); write the backup elsewhere.")
    if archive:
        if target.exists():
            raise BackupError(f"{target} already exists; give a new file name.")
        if not target.parent.is_dir():
            raise BackupError(f"The folder {target.parent} does not exist.")
        return Path(tempfile.mkdtemp(dir=target.parent, prefix=".genai-backup-")), target
    if target.exists() and not target.is_dir():
        raise BackupError(f"{target} is a file, not a folder; give a folder, or a file name ending in .tar.gz.")
    if target.is_dir():
        # An existing folder receives a new, dated backup folder.
        target = target / f"genai-backup-{timezone.now().strftime('%Y%m%dT%H%M%SZ')}"
        if target.exists():
            raise BackupError(f"{target} already exists; wait a second and run the backup again.")
    elif not target.parent.is_dir():
        raise BackupError(f"The folder {target.parent} does not exist.")
    target.mkdir()
    return target, None


def backup_make(*, target: Path) -> Path:
    """Write one backup to ``target`` (a folder, or a file name ending in .tar / .tar.gz); return where it is."""
    try:
        workdir, archive = _target_prepare(target)
    except OSError as exc:
        raise BackupError(f"Cannot write the backup to {target}: {exc.strerror}.") from None
    try:
        try:
            manifest = _backup_write(workdir)
        except (sqlite3.Error, DatabaseError) as exc:
            raise BackupError(f"The database cannot be read for the backup: {str(exc).strip()}.") from None
        if archive is None:
            return workdir
        partial = archive.with_name(f".{archive.name}.partial")
        with tarfile.open(partial, "w") if archive.name.endswith(".tar") else tarfile.open(partial, "w:gz") as tar:
            for name in [MANIFEST, *manifest["files"]]:
                tar.add(workdir / name, arcname=name, recursive=False)
        partial.replace(archive)
        return archive
    except OSError as exc:
        if archive is None:
            shutil.rmtree(workdir, ignore_errors=True)
        raise BackupError(f"Cannot write the backup to {target}: {exc.strerror} ({exc.filename}).") from None
    except BaseException:
        if archive is None:
            shutil.rmtree(workdir, ignore_errors=True)
        raise
    finally:
        if archive is not None:
            shutil.rmtree(workdir, ignore_errors=True)


def _backup_write(workdir: Path) -> dict[str, Any]:
    # The anchor first: copied before the snapshot, it names no seal the snapshot lacks.
    anchor = audit.anchor_read()
    if anchor is not None:
        (workdir / ANCHOR_FILE).parent.mkdir(parents=True)
        (workdir / ANCHOR_FILE).write_text(json.dumps(anchor, indent=1))

    (workdir / "database").mkdir()
    database: dict[str, Any] = {"vendor": connection.vendor}
    if connection.vendor == "sqlite":
        newest = sqlite_snapshot(workdir / SQLITE_FILE)
        database["file"] = SQLITE_FILE
    elif connection.vendor == "postgresql":
        newest, versions = postgresql_snapshot(workdir / POSTGRESQL_FILE)
        database |= {"file": POSTGRESQL_FILE, **versions}
    else:
        raise BackupError(f"Backups of a {connection.vendor} database are not supported.")

    if storage_is_local():
        media_root = Path(settings.MEDIA_ROOT)
        if media_root.is_dir():
            for path in files_under(media_root):
                dest = workdir / MEDIA_DIR / path.relative_to(media_root)
                dest.parent.mkdir(parents=True, exist_ok=True)
                try:
                    shutil.copy2(path, dest)
                except FileNotFoundError:
                    continue  # deleted while the backup ran: see the module's note on consistency
    else:
        # A bucket: every object it holds, read through the storage API.
        for name in stored_names():
            dest = workdir / MEDIA_DIR / name
            dest.parent.mkdir(parents=True, exist_ok=True)
            try:
                with default_storage.open(name, "rb") as source, dest.open("wb") as target:
                    shutil.copyfileobj(source, target)
            except FileNotFoundError:
                dest.unlink(missing_ok=True)
                continue  # deleted while the backup ran: see the module's note on consistency

    files = {
        str(path.relative_to(workdir)): {"sha256": sha256_file(path), "size": path.stat().st_size}
        for path in files_under(workdir)
    }
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "created_at": timezone.now().isoformat(),
        "platform": _platform_version(),
        "database": database,
        "audit": {
            "last_sealed_seq": newest[1],
            "last_seal_number": newest[0],
            "anchor": ANCHOR_FILE if anchor is not None else None,
            "anchor_seal_number": int(anchor["number"]) if anchor is not None else None,
        },
        "key_ids": key_ids(),
        "files": files,
    }
    manifest["signature"] = manifest_sign(manifest)
    (workdir / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True))
    return manifest

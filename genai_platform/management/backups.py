"""Backups that restore: the database, the stored files and the audit anchor, with a manifest of hashes.

A backup is a directory (or a tar archive of one)::

    manifest.json            what is in it: the SHA-256 and size of every other file, the platform's version
                             and commit, the database vendor, the time, the newest seal of the audit log
    database/db.sqlite3      the embedded default: SQLite's online backup of the database
    database/postgresql.dump PostgreSQL: pg_dump in its custom format (restored with pg_restore)
    media/...                every file under MEDIA_ROOT: outputs, unlabelled copies, checkpoints, training
                             samples, filing documents, audit exports
    audit/last-seal.json     the anchor: the newest seal as kept outside the database

Consistency. The database is one snapshot (pg_dump's own, or SQLite's backup in one read transaction), and the
newest seal in the manifest is read from that snapshot. The anchor is copied before the snapshot is taken, so
it never names a seal the snapshot lacks. The files are copied after the snapshot: a file the snapshot names
was stored before the row naming it was committed, so it is in the backup unless it was deleted while the
backup ran (a user deleting their history); files stored after the snapshot may be in the backup without a
row naming them, which is harmless. ``restore`` reports named files that are missing. On PostgreSQL the audit
log's number sequence is dumped as it stands when pg_dump reads it, which may be past the snapshot's records
(sequences are not transactional): the first seal after a restore records those numbers as void, as it does
for writers that rolled back.

The signing keys are not in a backup: they are secrets, kept apart (environment variables in production, the
files under the data directory's ``keys/`` in development). The manifest names the key ids and is signed with
the audit log's key; ``restore`` refuses a backup whose manifest signature, audit log or labels the configured
keys cannot verify.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.files.storage import default_storage
from django.db import DatabaseError, connection, connections, models, transaction
from django.utils import timezone

from audit import integrity
from audit import services as audit
from generation.labels import signing as label_signing

FORMAT = "genai-platform-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
SQLITE_FILE = "database/db.sqlite3"
POSTGRESQL_FILE = "database/postgresql.dump"
ANCHOR_FILE = "audit/last-seal.json"
MEDIA_DIR = "media"
_CHUNK = 1024 * 1024


class BackupError(Exception):
    """A backup or restore cannot go on; the message is one sentence for the operator."""


@dataclass
class RestoreReport:
    manifest: dict[str, Any]
    files: int = 0
    # The anchor here, when it names a later seal than the restored log holds: audit_verify reports the cut.
    anchor_ahead: dict[str, Any] | None = None
    missing_files: list[str] = field(default_factory=list)


# ------------------------------------------------------------------------------
# Helpers
# ------------------------------------------------------------------------------
def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _files_under(root: Path) -> Iterator[Path]:
    """Regular files under ``root``, in a stable order (symbolic links are not followed)."""
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            path = Path(dirpath) / name
            if path.is_file() and not path.is_symlink():
                yield path


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


def _key_ids() -> dict[str, str]:
    return {
        "audit": integrity.key_id(audit.public_key_raw()),
        "label": label_signing.key_id(),
        "audit_tag": audit.tag_key_id(),
    }


def _pg_env() -> dict[str, str]:
    """libpq's environment for the configured database: the password never shows in a process list."""
    db = connection.settings_dict
    env = dict(os.environ)
    for name, variable in (("HOST", "PGHOST"), ("PORT", "PGPORT"), ("USER", "PGUSER"), ("PASSWORD", "PGPASSWORD")):
        if db.get(name):
            env[variable] = str(db[name])
    env["PGDATABASE"] = str(db["NAME"])
    options = db.get("OPTIONS", {})
    for option in ("sslmode", "sslrootcert", "sslcert", "sslkey", "passfile", "service"):
        if options.get(option):
            env[f"PG{option.upper()}"] = str(options[option])
    return env


def _pg_tool_major(tool: str) -> int:
    try:
        out = subprocess.run([tool, "--version"], capture_output=True, text=True, timeout=30, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        raise BackupError(f"{tool} is not installed or does not run; install the PostgreSQL client tools.") from None
    # "pg_dump (PostgreSQL) 15.20 (Debian 15.20-0+deb12u1)"
    try:
        return int(out.split(")", 1)[1].strip().split(".")[0])
    except (IndexError, ValueError):
        raise BackupError(f"Cannot read the version of {tool} from {out.strip()!r}.") from None


def _run_tool(args: list[str], *, env: dict[str, str], what: str) -> None:
    result = subprocess.run(args, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
        raise BackupError(f"{what} failed: {lines[-1] if lines else f'exit status {result.returncode}'}")


# ------------------------------------------------------------------------------
# Backup
# ------------------------------------------------------------------------------
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


def _sqlite_snapshot(dest: Path) -> tuple[int, int]:
    """Copy the database with SQLite's online backup; return the newest seal as the copy holds it."""
    path = Path(connection.settings_dict["NAME"])
    if not path.is_file():
        raise BackupError(f"There is no database at {path}: nothing to back up.")
    source = sqlite3.connect(str(path), timeout=60)
    copy = sqlite3.connect(str(dest))
    try:
        source.backup(copy)
        copy.commit()
        return audit.seal_newest_read(copy.cursor())
    finally:
        copy.close()
        source.close()


def _postgresql_snapshot(dest: Path) -> tuple[tuple[int, int], dict[str, Any]]:
    """pg_dump of the database in the snapshot this transaction exports; return the newest seal in it."""
    server_major = connection.pg_version // 10000  # type: ignore[attr-defined]
    dump_major = _pg_tool_major("pg_dump")
    if dump_major < server_major:
        raise BackupError(
            f"pg_dump is version {dump_major} but the server runs PostgreSQL {server_major}; "
            f"install the client tools of version {server_major} or later."
        )
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        cursor.execute("SELECT pg_export_snapshot()")
        snapshot = cursor.fetchone()[0]
        newest = audit.seal_newest_read(cursor)
        _run_tool(
            ["pg_dump", "--format=custom", f"--snapshot={snapshot}", f"--file={dest}"], env=_pg_env(), what="pg_dump"
        )
    return newest, {"server_major": server_major, "pg_dump_major": dump_major}


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
        newest = _sqlite_snapshot(workdir / SQLITE_FILE)
        database["file"] = SQLITE_FILE
    elif connection.vendor == "postgresql":
        newest, versions = _postgresql_snapshot(workdir / POSTGRESQL_FILE)
        database |= {"file": POSTGRESQL_FILE, **versions}
    else:
        raise BackupError(f"Backups of a {connection.vendor} database are not supported.")

    media_root = Path(settings.MEDIA_ROOT)
    if media_root.is_dir():
        for path in _files_under(media_root):
            dest = workdir / MEDIA_DIR / path.relative_to(media_root)
            dest.parent.mkdir(parents=True, exist_ok=True)
            try:
                shutil.copy2(path, dest)
            except FileNotFoundError:
                continue  # deleted while the backup ran: see the module's note on consistency

    files = {
        str(path.relative_to(workdir)): {"sha256": _sha256_file(path), "size": path.stat().st_size}
        for path in _files_under(workdir)
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
        "key_ids": _key_ids(),
        "files": files,
    }
    manifest["signature"] = _manifest_sign(manifest)
    (workdir / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True))
    return manifest


# What the signature of a manifest covers: this prefix and the manifest without its signature, as canonical JSON.
_SIGNED_PREFIX = b"genai-platform backup manifest v1\n"


def _manifest_signed_bytes(manifest: dict[str, Any]) -> bytes:
    body = {key: value for key, value in manifest.items() if key != "signature"}
    return _SIGNED_PREFIX + json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _manifest_sign(manifest: dict[str, Any]) -> dict[str, str]:
    """Signed with the audit log's key: hashes alone catch damage, the signature catches a rewritten manifest."""
    return {
        "key_id": integrity.key_id(audit.public_key_raw()),
        "ed25519": integrity.sign(audit.signing_key(), _manifest_signed_bytes(manifest)),
    }


def _signature_check(manifest: dict[str, Any]) -> None:
    signature = manifest.get("signature")
    if not isinstance(signature, dict) or not isinstance(signature.get("ed25519"), str):
        raise BackupError("The manifest is not signed: it was not written by `manage.py backup` of this platform.")
    public = audit.public_keys().get(str(signature.get("key_id")))
    if public is None:
        raise BackupError(
            "The manifest was signed with another audit key: set GENAI_AUDIT_SIGNING_KEY to the key in use when the "
            "backup was made (or list its public key in GENAI_AUDIT_PREVIOUS_PUBLIC_KEYS)."
        )
    if not integrity.signature_valid(public, _manifest_signed_bytes(manifest), signature["ed25519"]):
        raise BackupError("The manifest's signature does not verify: the backup was changed after it was made.")


# ------------------------------------------------------------------------------
# Restore
# ------------------------------------------------------------------------------
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


def manifest_check(folder: Path) -> dict[str, Any]:
    """Read the manifest and check every file it names against its hash; raise ``BackupError`` at the first fault."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
    except FileNotFoundError:
        raise BackupError(f"{folder} holds no {MANIFEST}: it is not a backup of this platform.") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BackupError(f"The manifest of {folder} cannot be read ({exc}).") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(f"The manifest of {folder} is not a backup manifest of this platform.")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise BackupError(f"The backup has format version {manifest.get('format_version')!r}; this platform reads 1.")
    files = manifest.get("files")
    database = manifest.get("database")
    if (
        not isinstance(files, dict)
        or not isinstance(database, dict)
        or database.get("file") not in files
        or not isinstance(manifest.get("audit"), dict)
    ):
        raise BackupError("The manifest is damaged: its list of files or its database entry is missing.")
    root = folder.resolve()
    for name, facts in files.items():
        path = (folder / name).resolve()
        if not path.is_relative_to(root) or not isinstance(facts, dict):
            raise BackupError(f"The manifest is damaged: entry {name!r} is not a file inside the backup.")
        if not path.is_file():
            raise BackupError(f"The backup is incomplete: {name} is missing.")
        if _sha256_file(path) != facts.get("sha256"):
            raise BackupError(f"The backup is damaged: the SHA-256 of {name} does not match the manifest.")
    return manifest


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


def _media_check(folder: Path, names: list[str], *, force: bool) -> None:
    media_root = Path(settings.MEDIA_ROOT)
    for name in names:
        here = media_root / Path(name).relative_to(MEDIA_DIR)
        if here.exists() and not force and _sha256_file(here) != _sha256_file(folder / name):
            raise BackupError(
                f"{here} already exists with other content; restore into an empty installation, or give --force."
            )


def _sqlite_restore(folder: Path, manifest: dict[str, Any]) -> None:
    path = Path(connection.settings_dict["NAME"])
    connections.close_all()
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.restoring")
    shutil.copyfile(folder / manifest["database"]["file"], partial)
    # A write-ahead log left by the old database would be replayed into the restored one.
    for suffix in ("-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    partial.replace(path)


def _postgresql_restore(folder: Path, manifest: dict[str, Any]) -> None:
    restore_major = _pg_tool_major("pg_restore")
    dump_major = int(manifest["database"].get("pg_dump_major", 0))
    if restore_major < dump_major:
        raise BackupError(
            f"The dump was written by pg_dump {dump_major}; pg_restore here is version {restore_major}: "
            f"install the client tools of version {dump_major} or later."
        )
    connections.close_all()
    # Owners and privileges come back as they were: with the audit tables owned by a role of their own and the
    # application granted only SELECT and INSERT (audit/README.md), the restore keeps that separation. It runs
    # as the owning role (the one that runs migrate), and the roles must exist on the server.
    _run_tool(
        [
            "pg_restore",
            "--clean",
            "--if-exists",
            "--single-transaction",
            "--exit-on-error",
            f"--dbname={connection.settings_dict['NAME']}",
            str(folder / manifest["database"]["file"]),
        ],
        env=_pg_env(),
        what="pg_restore",
    )


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
        _signature_check(manifest)
        if not force and installation_has_data():
            raise BackupError(
                "The database here already has users, jobs or audit records; restore into an empty installation, "
                "or give --force to replace them."
            )
        media_names = sorted(name for name in manifest["files"] if name.startswith(f"{MEDIA_DIR}/"))
        _media_check(folder, media_names, force=force)

        if vendor == "sqlite":
            _sqlite_restore(folder, manifest)
        else:
            _postgresql_restore(folder, manifest)
        media_root = Path(settings.MEDIA_ROOT)
        for name in media_names:
            dest = media_root / Path(name).relative_to(MEDIA_DIR)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(folder / name, dest)
        report = RestoreReport(manifest=manifest, files=len(media_names))
        anchor_name = manifest["audit"].get("anchor")
        if anchor_name:
            audit.anchor_restore(json.loads((folder / anchor_name).read_text()))
    here = audit.anchor_read()
    if here is not None and int(here.get("number", 0)) > int(manifest["audit"].get("last_seal_number") or 0):
        report.anchor_ahead = here
    report.missing_files = _files_missing()
    return report

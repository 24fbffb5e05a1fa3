"""The backup's layout and its manifest: the file names, the hashes and the signature, and the check of both."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from django.core.files.storage import FileSystemStorage, default_storage, storages

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


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def files_under(root: Path) -> Iterator[Path]:
    """Regular files under ``root``, in a stable order (symbolic links are not followed)."""
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            path = Path(dirpath) / name
            if path.is_file() and not path.is_symlink():
                yield path


def storage_is_local() -> bool:
    """Whether the stored files are the local folder ``MEDIA_ROOT`` (else a bucket, read through the storage API)."""
    return isinstance(storages["default"], FileSystemStorage)


def stored_names(folder: str = "") -> Iterator[str]:
    """The names of every file the default storage holds under ``folder``, in a stable order."""
    try:
        directories, files = default_storage.listdir(folder)
    except FileNotFoundError:
        return
    for name in sorted(files):
        yield f"{folder}/{name}" if folder else name
    for directory in sorted(directories):
        yield from stored_names(f"{folder}/{directory}" if folder else directory)


def key_ids() -> dict[str, str]:
    return {
        "audit": integrity.key_id(audit.public_key_raw()),
        "label": label_signing.key_id(),
        "audit_tag": audit.tag_key_id(),
    }


# What the signature of a manifest covers: this prefix and the manifest without its signature, as canonical JSON.
_SIGNED_PREFIX = b"genai-platform backup manifest v1\n"


def _manifest_signed_bytes(manifest: dict[str, Any]) -> bytes:
    body = {key: value for key, value in manifest.items() if key != "signature"}
    return _SIGNED_PREFIX + json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def manifest_sign(manifest: dict[str, Any]) -> dict[str, str]:
    """Signed with the audit log's key: hashes alone catch damage, the signature catches a rewritten manifest."""
    return {
        "key_id": integrity.key_id(audit.public_key_raw()),
        "ed25519": integrity.sign(audit.signing_key(), _manifest_signed_bytes(manifest)),
    }


def signature_check(manifest: dict[str, Any]) -> None:
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
        if sha256_file(path) != facts.get("sha256"):
            raise BackupError(f"The backup is damaged: the SHA-256 of {name} does not match the manifest.")
    return manifest

"""Backups that restore: the database, the stored files and the audit anchor, with a manifest of hashes.

A backup is a directory (or a tar archive of one)::

    manifest.json            what is in it: the SHA-256 and size of every other file, the platform's version
                             and commit, the database vendor, the time, the newest seal of the audit log
    database/db.sqlite3      the embedded default: SQLite's online backup of the database
    database/postgresql.dump PostgreSQL: pg_dump in its custom format (restored with pg_restore)
    media/...                every stored file (under MEDIA_ROOT, or every object of the bucket of
                             GENAI_S3_BUCKET): outputs, unlabelled copies, checkpoints, training samples, filing
                             documents and packages, audit exports
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

from genai_platform.management.backups.manifest import MANIFEST, BackupError, manifest_check
from genai_platform.management.backups.restoring import RestoreReport, installation_has_data, restore
from genai_platform.management.backups.writing import backup_make

__all__ = [
    "MANIFEST",
    "BackupError",
    "RestoreReport",
    "backup_make",
    "installation_has_data",
    "manifest_check",
    "restore",
]

"""``manage.py restore <backup>``: restore a backup into an empty installation (stop web and workers first)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError

from genai_platform.management.backups import restore
from genai_platform.management.backups.command import backup_path, backup_refusals


class Command(BaseCommand):
    help = (
        "Restore a backup made by `manage.py backup` into the configured database, stored files (MEDIA_ROOT or "
        "the bucket) and audit anchor. "
        "Checks every hash first; refuses an installation that already has data unless --force."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("backup", help="the backup folder or archive")
        parser.add_argument(
            "--force", action="store_true", help="replace the data of an installation that is not empty"
        )

    def handle(self, *args: Any, backup: str, force: bool, **options: Any) -> None:
        try:
            with backup_refusals():
                report = restore(source=backup_path(backup), force=force)
        except DatabaseError as exc:
            raise CommandError(f"The database cannot be reached or read: {str(exc).strip()}.", returncode=1) from None
        except OSError as exc:
            raise CommandError(
                f"The restore stopped: {exc.strerror} ({exc.filename}); fix this and run it again with --force.",
                returncode=1,
            ) from None
        made = report.manifest
        sealed = made["audit"]
        self.stdout.write(
            f"Restored the backup of {made['created_at']}: the {made['database']['vendor']} database and "
            f"{report.files} stored files; audit log sealed up to record {sealed['last_sealed_seq']}."
        )
        if report.anchor_ahead is not None:
            self.stderr.write(
                f"Warning: the audit anchor on this host names seal {report.anchor_ahead['number']} (records up to "
                f"{report.anchor_ahead['last_seq']}); the restored log ends at seal {sealed['last_seal_number']} "
                f"(record {sealed['last_sealed_seq']}). audit_verify reports the records after it as cut: "
                "they were lost with the data this backup replaces. Record this in the incident log."
            )
        for name in report.missing_files:
            self.stderr.write(f"Missing stored file named by the database: {name}")
        self.stdout.write("Next: run `manage.py migrate`, then `manage.py audit_verify`, then start the platform.")

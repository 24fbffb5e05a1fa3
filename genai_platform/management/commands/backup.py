"""``manage.py backup <folder or file.tar.gz>``: one consistent backup of the database, stored files and anchor."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from genai_platform.management.backups import MANIFEST, backup_make
from genai_platform.management.backups.command import backup_path, backup_refusals


class Command(BaseCommand):
    help = (
        "Back up the database, every stored file and the audit anchor, with a manifest of SHA-256 hashes. "
        "TARGET is a folder (a dated backup folder is made inside an existing one) or a file name ending in "
        ".tar or .tar.gz."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("target", help="folder, or archive file name (.tar, .tar.gz)")

    def handle(self, *args: Any, target: str, **options: Any) -> None:
        with backup_refusals():
            where = backup_make(target=backup_path(target))
        if where.is_dir():
            manifest = json.loads((where / MANIFEST).read_text())
            self.stdout.write(
                f"Backup written to {where}: {len(manifest['files'])} files, the {manifest['database']['vendor']} "
                f"database, audit log sealed up to record {manifest['audit']['last_sealed_seq']}."
            )
        else:
            self.stdout.write(f"Backup written to {where}.")

"""``manage.py audit_verify_export FILE MANIFEST``: check an export against its manifest and the database."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from audit.models import LogEntry
from audit.services import public_key_b64, public_keys
from audit.standalone import verify_export


class Command(BaseCommand):
    help = (
        "Check an audit export: manifest signature (with this platform's key), file SHA-256, rows, record hashes, "
        "seals and Merkle roots; and, for a full export, that every row's record hash is the one in the database."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("manifest", type=Path)

    def handle(self, *args: Any, file: Path, manifest: Path, **options: Any) -> None:
        for path in (file, manifest):
            if not path.is_file():
                raise CommandError(f"no such file: {path}")
        try:
            key_id = json.loads(manifest.read_text(encoding="utf-8")).get("key_id", "")
        except ValueError:
            key_id = ""
        key = public_keys().get(key_id)
        report = verify_export.verify(file, manifest, base64.b64encode(key).decode() if key else public_key_b64())
        if report.ok:
            data = json.loads(manifest.read_text(encoding="utf-8"))
            if not data.get("pseudonymised"):
                self._against_database(file, data["format"], report)
        for line in report.notes:
            self.stdout.write(f"note: {line}")
        if not report.ok:
            raise CommandError("FAILED\n" + "\n".join(f"BAD: {p}" for p in report.problems), returncode=1)
        self.stdout.write("OK")

    def _against_database(self, file: Path, fmt: str, report: verify_export.Report) -> None:
        batch: dict[int, str] = {}

        def flush() -> None:
            stored = dict(LogEntry.objects.filter(seq__in=list(batch)).values_list("seq", "record_hash"))
            for seq, record_hash in batch.items():
                if stored.get(seq) != record_hash:
                    report.bad(f"seq {seq}: the row differs from the database (or the record is gone)")
            batch.clear()

        for row in verify_export.READERS[fmt](file):
            batch[row["seq"]] = row["record_hash"]
            if len(batch) >= 2000:
                flush()
        flush()
        report.note("every row matches the database")

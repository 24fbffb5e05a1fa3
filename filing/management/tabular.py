"""What the commands that import a table (keywords, test-bank questions) share: the file check, and a report
that lists every bad row and imports nothing while one is left."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from filing.safety.tabular import ImportFileError


class TabularImportCommand(BaseCommand):
    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", type=Path)
        parser.add_argument("--dry-run", action="store_true", help="Check the file only.")

    def file_check(self, path: Path) -> None:
        if not path.is_file():
            raise CommandError(f"No such file: {path}")

    def table_import(self, path: Path, importer: Callable[[IO[bytes]], Any], *, dry_run: bool) -> Any | None:
        """Run ``importer`` on the file; the report when it wrote, None after a good dry run. Bad rows and an
        unreadable file end the command with a sentence."""
        try:
            with path.open("rb") as stream:
                report = importer(stream)
        except ImportFileError as exc:
            raise CommandError(str(exc)) from exc
        if report.errors:
            for error in report.errors:
                self.stderr.write(str(error))
            raise CommandError(f"{len(report.errors)} bad rows; nothing was imported.")
        if dry_run:
            self.stdout.write(f"{len(report.entries)} rows are good; nothing was written (--dry-run).")
            return None
        return report

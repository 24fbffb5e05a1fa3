"""What the commands that import a table (keywords, test-bank questions) share: the arguments, the file check, and
a report that lists every bad row and imports nothing while one is left."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from filing.safety.tabular import ImportFileError


class TabularImportCommand(BaseCommand):
    """A command that imports the table file ``path`` in one of ``modes`` (the first is the default)."""

    modes: Sequence[str] = ()

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", type=Path)
        parser.add_argument("--dry-run", action="store_true", help="Check the file only.")
        parser.add_argument("--mode", choices=list(self.modes), default=self.modes[0])

    def target(self, options: dict[str, Any]) -> Any:
        """What the rows go into, found (or made) before the file is read; None when there is one only."""
        return None

    def rows_import(self, stream: IO[bytes], *, filename: str, target: Any, options: dict[str, Any]) -> Any:
        """Import the rows of ``stream``; the import's report."""
        raise NotImplementedError

    def summary(self, report: Any, *, target: Any) -> str:
        """What the import wrote, said when it is done."""
        raise NotImplementedError

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["path"]
        if not path.is_file():
            raise CommandError(f"No such file: {path}")
        target = self.target(options)
        try:
            with path.open("rb") as stream:
                report = self.rows_import(stream, filename=path.name, target=target, options=options)
        except ImportFileError as exc:
            raise CommandError(str(exc)) from exc
        if report.errors:
            for error in report.errors:
                self.stderr.write(str(error))
            raise CommandError(f"{len(report.errors)} bad rows; nothing was imported.")
        if options["dry_run"]:
            self.stdout.write(f"{len(report.entries)} rows are good; nothing was written (--dry-run).")
            return
        self.stdout.write(self.style.SUCCESS(self.summary(report, target=target)))

"""Import a keyword library file (CSV or XLSX, columns 关键词, 一级分类, 二级分类).

Nothing is written unless every row is good.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from filing.safety.keyword_io import ImportFileError, ImportMode, keywords_import


class Command(BaseCommand):
    help = (
        "Import keywords from a .csv or .xlsx file; every bad row is reported and nothing is imported "
        "until none is left."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", type=Path)
        parser.add_argument("--mode", choices=[ImportMode.MERGE, ImportMode.REPLACE], default=ImportMode.MERGE)
        parser.add_argument("--dry-run", action="store_true", help="Check the file only.")
        parser.add_argument("--actor", default="manage.py keywords_import")

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["path"]
        if not path.is_file():
            raise CommandError(f"No such file: {path}")
        try:
            with path.open("rb") as stream:
                report = keywords_import(
                    stream=stream,
                    filename=path.name,
                    actor=options["actor"],
                    mode=options["mode"],
                    dry_run=options["dry_run"],
                )
        except ImportFileError as exc:
            raise CommandError(str(exc)) from exc
        if report.errors:
            for error in report.errors:
                self.stderr.write(str(error))
            raise CommandError(f"{len(report.errors)} bad rows; nothing was imported.")
        if options["dry_run"]:
            self.stdout.write(f"{len(report.entries)} rows are good; nothing was written (--dry-run).")
            return
        version = report.version.number if report.version else "unchanged"
        self.stdout.write(
            self.style.SUCCESS(
                f"{report.created} added, {report.updated} changed, {report.unchanged} unchanged, "
                f"{report.deleted} deleted; library version {version}."
            )
        )

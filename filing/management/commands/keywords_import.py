"""Import a keyword library file (CSV or XLSX, columns 关键词, 一级分类, 二级分类).

Nothing is written unless every row is good.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import CommandParser

from filing.management.tabular import TabularImportCommand
from filing.safety.keyword_io import ImportMode, keywords_import


class Command(TabularImportCommand):
    help = (
        "Import keywords from a .csv or .xlsx file; every bad row is reported and nothing is imported "
        "until none is left."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument("--mode", choices=[ImportMode.MERGE, ImportMode.REPLACE], default=ImportMode.MERGE)
        parser.add_argument("--actor", default="manage.py keywords_import")

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["path"]
        self.file_check(path)
        report = self.table_import(
            path,
            lambda stream: keywords_import(
                stream=stream,
                filename=path.name,
                actor=options["actor"],
                mode=options["mode"],
                dry_run=options["dry_run"],
            ),
            dry_run=options["dry_run"],
        )
        if report is None:
            return
        version = report.version.number if report.version else "unchanged"
        self.stdout.write(
            self.style.SUCCESS(
                f"{report.created} added, {report.updated} changed, {report.unchanged} unchanged, "
                f"{report.deleted} deleted; library version {version}."
            )
        )

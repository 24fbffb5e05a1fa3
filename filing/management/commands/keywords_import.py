"""Import a keyword library file (CSV or XLSX, columns 关键词, 一级分类, 二级分类).

Nothing is written unless every row is good.
"""

from __future__ import annotations

from typing import IO, Any

from django.core.management.base import CommandParser

from filing.management.tabular import TabularImportCommand
from filing.safety.keyword_io import ImportMode, keywords_import


class Command(TabularImportCommand):
    help = (
        "Import keywords from a .csv or .xlsx file; every bad row is reported and nothing is imported "
        "until none is left."
    )
    modes = (ImportMode.MERGE, ImportMode.REPLACE)

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument("--actor", default="manage.py keywords_import")

    def rows_import(self, stream: IO[bytes], *, filename: str, target: Any, options: dict[str, Any]) -> Any:
        return keywords_import(
            stream=stream, filename=filename, actor=options["actor"], mode=options["mode"], dry_run=options["dry_run"]
        )

    def summary(self, report: Any, *, target: Any) -> str:
        version = report.version.number if report.version else "unchanged"
        return (
            f"{report.created} added, {report.updated} changed, {report.unchanged} unchanged, "
            f"{report.deleted} deleted; library version {version}."
        )

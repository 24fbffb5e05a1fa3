"""Export the keyword library as the filing attachment (拦截关键词列表) in CSV or XLSX."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from filing.safety.keyword_io import keyword_rows, xlsx_write
from filing.safety.tabular import csv_write


class Command(BaseCommand):
    help = "Write the keyword library to a .csv or .xlsx file (columns 关键词, 一级分类, 二级分类)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", type=Path)
        parser.add_argument(
            "--full", action="store_true", help="Also write 动作, 启用, 备注 and disabled keywords (re-importable)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["path"]
        rows = keyword_rows(full=options["full"])
        if path.suffix.lower() == ".csv":
            with path.open("w", encoding="utf-8", newline="") as text:
                csv_write(rows, text)
        elif path.suffix.lower() == ".xlsx":
            with path.open("wb") as data:
                xlsx_write(rows, data)
        else:
            raise CommandError("The file name must end in .csv or .xlsx.")
        self.stdout.write(self.style.SUCCESS(f"Wrote {path}."))

"""Import test-bank questions (XLSX or CSV, columns 序号, 测试题, 一级分类, 二级分类) into a bank.

Nothing is written unless every row is good.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from filing.safety.bank_models import BankKind, TestBank
from filing.safety.banks import ImportMode, bank_create, bank_questions_import
from filing.safety.keyword_io import ImportFileError


class Command(BaseCommand):
    help = (
        "Import questions into the bank named --bank (created with --kind if it does not exist); every bad row "
        "is reported and nothing is imported until none is left."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", type=Path)
        parser.add_argument("--bank", required=True, help="Bank name.")
        parser.add_argument("--kind", choices=BankKind.values, help="Kind of a bank to create.")
        parser.add_argument("--mode", choices=[ImportMode.REPLACE, ImportMode.APPEND], default=ImportMode.REPLACE)
        parser.add_argument("--dry-run", action="store_true", help="Check the file only.")

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["path"]
        if not path.is_file():
            raise CommandError(f"No such file: {path}")
        bank = TestBank.objects.filter(name=options["bank"]).first()
        if bank is None:
            if not options["kind"]:
                raise CommandError(f"No bank is named “{options['bank']}”; give --kind to create it.")
            if options["dry_run"]:
                bank = TestBank(name=options["bank"], kind=options["kind"])
            else:
                bank = bank_create(name=options["bank"], kind=options["kind"])
        elif options["kind"] and options["kind"] != bank.kind:
            raise CommandError(f"“{bank.name}” is a {bank.get_kind_display()}, not {options['kind']}.")
        try:
            with path.open("rb") as stream:
                report = bank_questions_import(
                    bank=bank, stream=stream, filename=path.name, mode=options["mode"], dry_run=options["dry_run"]
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
        self.stdout.write(
            self.style.SUCCESS(f"{bank.name}: {report.created} questions added, {report.deleted} removed.")
        )

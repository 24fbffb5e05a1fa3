"""Import test-bank questions (XLSX or CSV, columns 序号, 测试题, 一级分类, 二级分类) into a bank.

Nothing is written unless every row is good.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import CommandError, CommandParser

from filing.management.tabular import TabularImportCommand
from filing.safety.bank_models import BankKind, TestBank
from filing.safety.banks import ImportMode, bank_create, bank_questions_import


class Command(TabularImportCommand):
    help = (
        "Import questions into the bank named --bank (created with --kind if it does not exist); every bad row "
        "is reported and nothing is imported until none is left."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument("--bank", required=True, help="Bank name.")
        parser.add_argument("--kind", choices=BankKind.values, help="Kind of a bank to create.")
        parser.add_argument("--mode", choices=[ImportMode.REPLACE, ImportMode.APPEND], default=ImportMode.REPLACE)

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["path"]
        self.file_check(path)
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
        report = self.table_import(
            path,
            lambda stream: bank_questions_import(
                bank=bank, stream=stream, filename=path.name, mode=options["mode"], dry_run=options["dry_run"]
            ),
            dry_run=options["dry_run"],
        )
        if report is not None:
            self.stdout.write(
                self.style.SUCCESS(f"{bank.name}: {report.created} questions added, {report.deleted} removed.")
            )

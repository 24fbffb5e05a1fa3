"""Import test-bank questions (XLSX or CSV, columns 序号, 测试题, 一级分类, 二级分类) into a bank.

Nothing is written unless every row is good.
"""

from __future__ import annotations

from typing import IO, Any

from django.core.management.base import CommandError, CommandParser

from filing.management.tabular import TabularImportCommand
from filing.safety.bank_models import BankKind, TestBank
from filing.safety.banks import ImportMode, bank_create, bank_questions_import


class Command(TabularImportCommand):
    help = (
        "Import questions into the bank named --bank (created with --kind if it does not exist); every bad row "
        "is reported and nothing is imported until none is left."
    )
    modes = (ImportMode.REPLACE, ImportMode.APPEND)

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument("--bank", required=True, help="Bank name.")
        parser.add_argument("--kind", choices=BankKind.values, help="Kind of a bank to create.")

    def target(self, options: dict[str, Any]) -> TestBank:
        bank = TestBank.objects.filter(name=options["bank"]).first()
        if bank is None:
            if not options["kind"]:
                raise CommandError(f"No bank is named “{options['bank']}”; give --kind to create it.")
            if options["dry_run"]:
                return TestBank(name=options["bank"], kind=options["kind"])
            return bank_create(name=options["bank"], kind=options["kind"])
        if options["kind"] and options["kind"] != bank.kind:
            raise CommandError(f"“{bank.name}” is a {bank.get_kind_display()}, not {options['kind']}.")
        return bank

    def rows_import(self, stream: IO[bytes], *, filename: str, target: Any, options: dict[str, Any]) -> Any:
        return bank_questions_import(
            bank=target, stream=stream, filename=filename, mode=options["mode"], dry_run=options["dry_run"]
        )

    def summary(self, report: Any, *, target: Any) -> str:
        return f"{target.name}: {report.created} questions added, {report.deleted} removed."

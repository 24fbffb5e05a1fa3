"""Create a clearly marked synthetic demo set of the three test banks."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from filing.safety.bank_demo import banks_demo_create
from filing.safety.bank_models import BankKind, TestBank
from filing.safety.models import Origin


class Command(BaseCommand):
    help = (
        "Create SYNTHETIC demo test banks (generated content, should refuse, should not refuse), named 【演示】… "
        "and marked as demo, replacing earlier demo banks; real banks are untouched. Sizes default to the "
        "configured minimums. Should-refuse questions contain the demo keyword library's words "
        "(manage.py keywords_demo). --remove deletes the demo banks."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        for kind in BankKind:
            parser.add_argument(f"--{kind.value}", type=int, default=None, help=f"Questions in the {kind.label}.")
        parser.add_argument("--remove", action="store_true", help="Remove the demo banks instead.")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["remove"]:
            count, _detail = TestBank.objects.filter(origin=Origin.DEMO).delete()
            self.stdout.write("Demo banks removed." if count else "No demo banks were present.")
            return
        sizes = {kind.value: options[kind.value] for kind in BankKind if options[kind.value] is not None}
        if any(size < 0 for size in sizes.values()):
            raise CommandError("Sizes are whole numbers from 0 up.")
        try:
            result = banks_demo_create(sizes=sizes)
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        for bank in result.banks.values():
            self.stdout.write(
                self.style.WARNING(f"Created SYNTHETIC demo bank “{bank.name}”: {bank.question_count} questions.")
            )
        self.stdout.write(
            self.style.WARNING("These are not real test banks; import real ones before a real assessment.")
        )

"""Create (or remove) a clearly marked synthetic demo keyword library."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from filing.safety.demo import keyword_library_demo_create, keyword_library_demo_remove


class Command(BaseCommand):
    help = (
        "Create a SYNTHETIC demo keyword library (entries start with 演示 and are marked as demo), replacing "
        "earlier demo entries; real entries are untouched. --remove deletes the demo entries."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--size", type=int, default=None, help="Number of keywords (default: the configured minimum)."
        )
        parser.add_argument("--remove", action="store_true", help="Remove the demo entries instead.")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["remove"]:
            version = keyword_library_demo_remove(actor="manage.py keywords_demo")
            self.stdout.write(
                "No demo entries were present."
                if version is None
                else f"Demo entries removed; library version {version.number}."
            )
            return
        result = keyword_library_demo_create(actor="manage.py keywords_demo", size=options["size"])
        self.stdout.write(
            self.style.WARNING(
                f"Created a SYNTHETIC demo library: {result.keywords} keywords, {result.allowlist} allowlist phrases; "
                f"library version {result.version.number}. It is not a real keyword library."
            )
        )

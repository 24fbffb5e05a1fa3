"""``manage.py label_verify FILE``: verify the content label of a file from the command line.

Exit status: 0 genuine and unaltered; 1 any other verdict (altered, bad signature, another
producer, no label, two labels, malformed label); 2 a file that cannot be read at all.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError

from generation.labels.verify import MAX_VERIFY_BYTES, Verdict, verify_file


class Command(BaseCommand):
    help = "Verify the AIGC content label of a PNG, JPEG, Markdown or JSON file and say whether it is genuine."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="Path of the file to verify.")
        parser.add_argument("--json", action="store_true", help="Print the full result as JSON.")
        parser.add_argument(
            "--own-uscc",
            action="append",
            default=None,
            metavar="USCC",
            help="A unified social credit code of this platform's provider (repeatable); "
            "by default the providers on file in the database.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["file"])
        if not path.is_file():
            raise CommandError(f"{path} is not a file.", returncode=2)
        size = path.stat().st_size
        if size > MAX_VERIFY_BYTES:
            raise CommandError(
                f"{path} is {size} bytes, more than the {MAX_VERIFY_BYTES >> 20} MB this command reads.", returncode=2
            )
        try:
            with path.open("rb") as handle:
                data = handle.read(MAX_VERIFY_BYTES + 1)
        except OSError as exc:
            raise CommandError(f"{path} cannot be read: {exc.strerror}.", returncode=2) from None
        try:
            result = verify_file(data, filename=path.name, own_usccs=options["own_uscc"])
        except DatabaseError:
            raise CommandError(
                "The providers on file could not be read from the database; run migrate or pass --own-uscc.",
                returncode=2,
            ) from None
        if options["json"]:
            self.stdout.write(json.dumps(result.as_dict(), ensure_ascii=False, indent=2))
        if result.verdict is Verdict.GENUINE:
            if not options["json"]:
                self.stdout.write(result.message)
            return
        raise CommandError(result.message, returncode=2 if result.verdict is Verdict.UNREADABLE else 1)

"""``manage.py audit_verify [--from N] [--to N]``: recompute the log and report OK or the first bad record."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from audit.verification import log_verify, verification_record


class Command(BaseCommand):
    help = "Verify the audit log: record hashes, seals, signatures and the seal kept outside the database."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--from", dest="seq_from", type=int, help="first sequence number to check")
        parser.add_argument("--to", dest="seq_to", type=int, help="last sequence number to check")
        parser.add_argument(
            "--no-record", action="store_true", help="do not write the result as an audit.verified record"
        )

    def handle(self, *args: Any, seq_from: int | None, seq_to: int | None, no_record: bool, **options: Any) -> None:
        if seq_from is not None and seq_to is not None and seq_from > seq_to:
            raise CommandError("--from must not be after --to")
        if no_record:
            result = log_verify(seq_from=seq_from, seq_to=seq_to)
        else:
            result = verification_record(seq_from=seq_from, seq_to=seq_to)
        for note in result.notes:
            self.stderr.write(note)
        if result.ok:
            self.stdout.write(result.summary())
        else:
            raise CommandError(result.summary(), returncode=1)

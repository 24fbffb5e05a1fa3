"""``manage.py audit_hold``: place, release and list legal holds (each change is an audit event)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from audit.models import LegalHold
from audit.services import legal_hold_release, legal_hold_set


class Command(BaseCommand):
    help = "Legal holds stop the retention purge for an actor or a subject."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        place = sub.add_parser("set", help="place a hold")
        place.add_argument("--reason", required=True)
        place.add_argument("--actor-id", default="")
        place.add_argument("--subject-kind", default="", help="e.g. generation.job")
        place.add_argument("--subject-id", default="")
        release = sub.add_parser("release", help="release a hold")
        release.add_argument("hold_id", type=int)
        sub.add_parser("list", help="list active holds")

    def handle(self, *args: Any, action: str, **options: Any) -> None:
        if action == "set":
            try:
                hold = legal_hold_set(
                    reason=options["reason"],
                    actor_id=options["actor_id"],
                    subject_kind=options["subject_kind"],
                    subject_id=options["subject_id"],
                )
            except ValueError as exc:
                raise CommandError(str(exc)) from None
            self.stdout.write(f"hold {hold.pk} placed: {hold}")
        elif action == "release":
            active = LegalHold.objects.filter(pk=options["hold_id"], released_at__isnull=True).first()
            if active is None:
                raise CommandError(f"no active hold {options['hold_id']}")
            legal_hold_release(hold=active)
            self.stdout.write(f"hold {active.pk} released")
        else:
            for hold in LegalHold.objects.filter(released_at__isnull=True).order_by("pk"):
                self.stdout.write(f"{hold.pk}\t{hold}\t{hold.reason}\t{hold.created_at:%Y-%m-%d}")

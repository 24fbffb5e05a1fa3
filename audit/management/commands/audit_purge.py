"""``manage.py audit_purge``: run the retention purge now (the scheduler runs it daily)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from audit.services import RetentionError, retention_purge


class Command(BaseCommand):
    help = "Delete content and sealed blocks older than AUDIT_RETENTION_DAYS, except what legal holds keep."

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            counts = retention_purge()
        except RetentionError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            f"{counts['blocks_deleted']} blocks ({counts['records_deleted']} records) and "
            f"{counts['content_deleted']} content items deleted"
        )

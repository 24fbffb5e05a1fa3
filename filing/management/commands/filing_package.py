"""Build the filing package of a service now (without a worker) and write it to a file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from filing.exports import filing_export_run
from filing.models import FilingExport, Service


class Command(BaseCommand):
    help = (
        "Build the filing package (zip) of a service and write it to PATH; the export is kept and "
        "recorded in the audit log like one started from the admin."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("service", help="Id or exact name of the service.")
        parser.add_argument("path", type=Path, help="Where to write the zip.")

    def handle(self, *args: Any, **options: Any) -> None:
        key: str = options["service"]
        service = Service.objects.filter(pk=int(key)).first() if key.isdigit() else None
        service = service or Service.objects.filter(name=key).first()
        if service is None:
            raise CommandError(f"No service has the id or name {key!r}.")
        export = FilingExport.objects.create(service=service, step="queued")
        result = filing_export_run(export_id=export.pk)
        if result is None or result.status != FilingExport.Status.DONE:
            raise CommandError(f"The package could not be built: {result.error if result else 'export vanished'}")
        path: Path = options["path"]
        with result.file.open("rb") as source:
            path.write_bytes(source.read())
        self.stdout.write(self.style.SUCCESS(f"Wrote {path} (SHA-256 {result.sha256})."))

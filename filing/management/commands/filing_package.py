"""Build the filing package of a service now (without a worker) and write it to a file. While readiness items are
open the package is a draft: the command says so on stderr, item by item, and ``--final`` refuses to build it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from filing.exports import filing_export_run
from filing.models import FilingExport, Service
from filing.package import package_open_items


class Command(BaseCommand):
    help = (
        "Build the filing package (zip) of a service and write it to PATH; the export is kept and "
        "recorded in the audit log like one started from the admin."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("service", help="Id or exact name of the service.")
        parser.add_argument("path", type=Path, help="Where to write the zip.")
        parser.add_argument(
            "--final",
            action="store_true",
            help="Refuse to build while anything is open, missing or demo data (no draft is written).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        key: str = options["service"]
        service = Service.objects.filter(pk=int(key)).first() if key.isdigit() else None
        service = service or Service.objects.filter(name=key).first()
        if service is None:
            raise CommandError(f"No service has the id or name {key!r}.")
        open_items = package_open_items(service)
        if open_items:
            self.stderr.write(f"{len(open_items)} readiness item(s) of {service} are open; the package is a draft:")
            for line in open_items:
                self.stderr.write(f"  - {line}")
            if options["final"]:
                raise CommandError("Not built: --final asks for a complete filing.")
        export = FilingExport.objects.create(service=service, step="queued")
        result = filing_export_run(export_id=export.pk)
        if result is None or result.status != FilingExport.Status.DONE:
            raise CommandError(f"The package could not be built: {result.error if result else 'export vanished'}")
        if result.draft and options["final"]:
            # Readiness was complete, but the package itself lacks something (listed below): no final package.
            for line in result.open_items:
                self.stderr.write(f"  - {line}")
            raise CommandError(f"Built only as a draft (export #{result.pk}): --final asks for a complete filing.")
        path: Path = options["path"]
        with result.file.open("rb") as source:
            path.write_bytes(source.read())
        if result.draft:
            self.stderr.write(f"DRAFT: {len(result.open_items)} item(s) open, missing or demo data (manifest.json):")
            for line in result.open_items:
                self.stderr.write(f"  - {line}")
        self.stdout.write(self.style.SUCCESS(f"Wrote {path} (SHA-256 {result.sha256})."))

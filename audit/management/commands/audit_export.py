"""``manage.py audit_export``: write an export and its signed manifest from a terminal."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.core.management.base import BaseCommand, CommandError, CommandParser

from audit.exports import EXTENSIONS, export_create, export_write_file
from audit.selectors import FilterError, LogFilters


class Command(BaseCommand):
    help = (
        "Export audit records (CSV, JSONL or XLSX) with the given filters, and a signed manifest beside the file "
        "(FILE.manifest.json). Actors are pseudonymised unless --full is given."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("output", type=Path, help="file to write")
        parser.add_argument("--format", choices=sorted(EXTENSIONS), help="default: from the file's extension")
        parser.add_argument("--full", action="store_true", help="real actor names and addresses (not pseudonymised)")
        parser.add_argument(
            "--content",
            action="store_true",
            help="include prompt and output content (needs --as-user with that permission)",
        )
        parser.add_argument("--as-user", help="username the export is made for (recorded; checked for --content)")
        for name in LogFilters.names():
            parser.add_argument(f"--{name.replace('_', '-')}", dest=name, default="")

    def handle(self, *args: Any, **options: Any) -> None:
        output: Path = options["output"]
        fmt = options["format"] or output.suffix.lstrip(".").lower()
        if fmt not in EXTENSIONS:
            raise CommandError(f"say --format (csv, jsonl or xlsx); cannot tell from {output.name!r}")
        user = None
        if options["content"] and not options["as_user"]:
            raise CommandError("--content needs --as-user naming a user who may read content")
        if options["as_user"]:
            user = get_user_model().objects.filter(username=options["as_user"]).first()
            if user is None:
                raise CommandError(f"no user named {options['as_user']!r}")
        try:
            filters = LogFilters.from_mapping(options)
            export = export_create(
                user=user,
                fmt=fmt,
                filters=filters,
                pseudonymise=not options["full"],
                include_content=options["content"],
            )
        except (FilterError, PermissionDenied) as exc:
            raise CommandError(str(exc)) from None
        manifest = export_write_file(export=export, path=output)
        manifest_path = output.with_name(output.name + ".manifest.json")
        manifest_path.write_text(json.dumps(manifest, indent=1, ensure_ascii=False))
        self.stdout.write(
            f"{manifest['row_count']} rows (seq {manifest['first_seq']}..{manifest['last_seq']}) written to {output}; "
            f"manifest {manifest_path}"
        )

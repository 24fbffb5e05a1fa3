"""An export from request to file: created (an audit event), written in the request or on the exports queue,
with its signed manifest."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import logging
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from audit import integrity, services
from audit.exports.database import _copy_applies, _copy_export
from audit.exports.formats import (
    EXTENSIONS,
    ExportResult,
    _batches,
    _HashingWriter,
    _RowMaker,
    _text_chunks,
    _xlsx_write,
    columns_for,
)
from audit.models import Export
from audit.selectors import LogFilters, seals_covering

logger = logging.getLogger(__name__)


def manifest_build(
    *,
    export: Export,
    columns: tuple[str, ...],
    result: ExportResult,
    file_name: str,
) -> dict[str, Any]:
    seals = []
    if result.first_seq is not None and result.last_seq is not None:
        seals = [services.seal_as_dict(s) for s in seals_covering(result.first_seq, result.last_seq)]
    public = services.public_key_raw()
    manifest: dict[str, Any] = {
        "manifest_version": 1,
        "export_id": str(export.id),
        "created_at": integrity.time_canonical(timezone.now()),
        "created_by": export.created_by,
        "file_name": file_name,
        "format": export.format,
        "file_sha256": result.sha256,
        "file_size": result.size,
        "columns": list(columns),
        # Text cells a spreadsheet would run carry one more leading quote (genai_platform.spreadsheets).
        "formula_safe_cells": export.format in ("csv", "xlsx"),
        "filters": export.filters,
        "pseudonymised": export.pseudonymise,
        "content_included": export.include_content,
        "row_count": result.rows,
        "first_seq": result.first_seq,
        "last_seq": result.last_seq,
        "seals": seals,
        "public_key": base64.b64encode(public).decode(),
        "key_id": integrity.key_id(public),
    }
    manifest["signature"] = integrity.sign(services.signing_key(), integrity.manifest_message(manifest))
    return manifest


def export_create(
    *,
    user: Any,
    fmt: str,
    filters: LogFilters,
    pseudonymise: bool = True,
    include_content: bool = False,
) -> Export:
    """Record a requested export. Full content needs the ``audit.read_content`` permission."""
    if fmt not in EXTENSIONS:
        raise ValueError(f"format must be one of {', '.join(EXTENSIONS)}")
    if include_content and not (user is not None and user.has_perm("audit.read_content")):
        raise PermissionDenied("exporting content needs the 'Can read and export prompt and output content' permission")
    export = Export(
        id=uuid.uuid4(),
        created_by_id=str(user.pk) if user is not None else "",
        created_by=user.get_username() if user is not None else "system",
        format=fmt,
        filters=filters.as_dict(),
        pseudonymise=pseudonymise,
        include_content=include_content,
        rows_total=filters.queryset().count(),
    )
    export.save()
    return export


def _event_exported(export: Export, result: ExportResult, status: str) -> None:
    services.audit_event(
        event_type="audit.exported",
        actor_id=export.created_by_id or None,
        actor_username=export.created_by,
        subject=("audit.export", str(export.id), f"{export.format} export"),
        payload={
            "export_id": str(export.id),
            "format": export.format,
            "filters": export.filters,
            "row_count": result.rows,
            "first_seq": result.first_seq,
            "last_seq": result.last_seq,
            "file_sha256": result.sha256 or None,
            "pseudonymised": export.pseudonymise,
            "content_included": export.include_content,
            "status": status,
        },
    )


def export_file_name(export: Export) -> str:
    """``audit-20261207T143000+0800-1a2b3c4d.csv``: the time in the zone of the auditors' pages, with its offset."""
    if export.created_at:
        stamp = timezone.localtime(export.created_at, ZoneInfo(settings.AUDIT_TIME_ZONE)).strftime("%Y%m%dT%H%M%S%z")
    else:
        stamp = "export"
    return f"audit-{stamp}-{str(export.id)[:8]}.{EXTENSIONS[export.format]}"


def export_write_file(
    *,
    export: Export,
    path: Path,
    progress: Callable[[int], None] | None = None,
    store: Callable[[dict[str, Any]], str] | None = None,
) -> dict[str, Any]:
    """Write the export to ``path`` and return its signed manifest; record the export as an event.

    ``store`` (given the manifest) puts the written file where it is served from and returns its stored name, before
    the export is marked done: whoever sees it done finds its file, on any host."""
    filters = LogFilters.from_mapping(export.filters)
    columns = columns_for(pseudonymise=export.pseudonymise, include_content=export.include_content)
    maker = _RowMaker(pseudonymise=export.pseudonymise, include_content=export.include_content)
    result = ExportResult()
    batches = _batches(filters, maker, progress)
    if _copy_applies(export):
        with path.open("wb") as raw:
            out = _HashingWriter(raw)
            _copy_export(filters, out, result, fmt=export.format, pseudonymise=export.pseudonymise)
        result.sha256, result.size = out.sha.hexdigest(), out.size
    elif export.format == "xlsx":
        _xlsx_write(columns, batches, path, result)
        sha = hashlib.sha256()
        with path.open("rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                sha.update(chunk)
        result.sha256, result.size = sha.hexdigest(), path.stat().st_size
    else:
        with path.open("wb") as raw:
            out = _HashingWriter(raw)
            for chunk in _text_chunks(export.format, columns, batches, result):
                out.write(chunk)
        result.sha256, result.size = out.sha.hexdigest(), out.size
    manifest = manifest_build(export=export, columns=columns, result=result, file_name=export_file_name(export))
    stored = {"file_name": store(manifest)} if store is not None else {}
    with transaction.atomic():
        Export.objects.filter(pk=export.pk).update(
            manifest=manifest, rows_done=result.rows, status=Export.Status.DONE, finished_at=timezone.now(), **stored
        )
        _event_exported(export, result, "done")
    return manifest


def export_stream(*, export: Export) -> Iterator[bytes]:
    """CSV or JSONL bytes for a streamed response; the manifest is stored on the export at the end.

    If the client goes away before the end, the export is recorded as aborted with the rows sent.
    """
    filters = LogFilters.from_mapping(export.filters)
    columns = columns_for(pseudonymise=export.pseudonymise, include_content=export.include_content)
    maker = _RowMaker(pseudonymise=export.pseudonymise, include_content=export.include_content)
    result = ExportResult()
    sha = hashlib.sha256()
    finished = False
    Export.objects.filter(pk=export.pk).update(status=Export.Status.RUNNING)
    try:
        for chunk in _text_chunks(export.format, columns, _batches(filters, maker, None), result):
            sha.update(chunk)
            result.size += len(chunk)
            yield chunk
        finished = True
    finally:
        result.sha256 = sha.hexdigest()
        if finished:
            manifest = manifest_build(export=export, columns=columns, result=result, file_name=export_file_name(export))
            with transaction.atomic():
                Export.objects.filter(pk=export.pk).update(
                    manifest=manifest, rows_done=result.rows, status=Export.Status.DONE, finished_at=timezone.now()
                )
                _event_exported(export, result, "done")
        else:
            with transaction.atomic():
                Export.objects.filter(pk=export.pk).update(
                    rows_done=result.rows, status=Export.Status.FAILED, error="the download was interrupted"
                )
                _event_exported(export, result, "aborted")


def export_storage_names(export: Export) -> tuple[str, str]:
    base = f"audit/exports/{export.id}"
    return f"{base}.{EXTENSIONS[export.format]}", f"{base}.manifest.json"


def export_run(*, export_id: str) -> None:
    """Background export (Celery, queue ``exports``): file and manifest go to the default storage."""
    export = Export.objects.get(pk=export_id)
    if export.status not in (Export.Status.QUEUED, Export.Status.RUNNING):
        return  # delivered twice: already finished
    Export.objects.filter(pk=export.pk).update(status=Export.Status.RUNNING, rows_done=0)

    def progress(rows: int) -> None:
        Export.objects.filter(pk=export.pk).update(rows_done=rows)

    tmp_dir = Path(settings.DATA_DIR) / "tmp"
    tmp_dir.mkdir(parents=True, exist_ok=True)
    try:
        with tempfile.TemporaryDirectory(dir=tmp_dir) as workdir:
            path = Path(workdir) / "export"

            def store(manifest: dict[str, Any]) -> str:
                # Written here (a local scratch file), then stored: the local folder or the bucket.
                file_name, manifest_name = export_storage_names(export)
                for name in (file_name, manifest_name):
                    if default_storage.exists(name):
                        default_storage.delete(name)
                with path.open("rb") as f:
                    stored = default_storage.save(file_name, File(f))
                default_storage.save(manifest_name, File(io.BytesIO(json.dumps(manifest, indent=1).encode())))
                return stored

            export_write_file(export=export, path=path, progress=progress, store=store)
    except Exception as exc:
        logger.exception("audit export %s failed", export.pk)
        with transaction.atomic():
            Export.objects.filter(pk=export.pk).update(status=Export.Status.FAILED, error=str(exc)[:2000])
            result = ExportResult()
            _event_exported(export, result, "failed")
        raise


def export_start(*, export: Export) -> None:
    """Queue a background export after the current transaction commits."""
    from kombu.exceptions import OperationalError

    from audit.tasks import export_run_task

    def send() -> None:
        try:
            export_run_task.delay(str(export.id))
        except OperationalError as exc:
            Export.objects.filter(pk=export.pk).update(
                status=Export.Status.FAILED, error=f"the task queue cannot be reached ({exc})"[:2000]
            )

    transaction.on_commit(send)

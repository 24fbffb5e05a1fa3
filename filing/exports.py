"""Filing package exports: queued from the admin, built by a worker, recorded in the audit log."""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from filing.history import acting_as
from filing.models import FilingExport, Service
from genai_platform.outages import BROKER, BROKER_SEND_ERRORS, NEVER_SENT

logger = logging.getLogger(__name__)


def filing_export_request(*, service: Service, actor: Any) -> FilingExport:
    """Queue a build of the package of ``service``; the task is sent once the row is committed.

    If the broker cannot be reached then, the export is marked failed at once with a reason to start it again,
    rather than left queued with nothing to run it.
    """
    with transaction.atomic():
        export = FilingExport.objects.create(
            service=service, requested_by=actor if getattr(actor, "pk", None) else None, step="queued"
        )
        transaction.on_commit(lambda: _export_send(export))
    return export


def _export_send(export: FilingExport) -> None:
    from filing.tasks import package_export_task

    try:
        package_export_task.delay(export.pk)
    except BROKER_SEND_ERRORS as exc:
        BROKER.failed(exc, "filing exports and training runs started now are marked failed")
        export.status, export.error, export.finished_at = FilingExport.Status.FAILED, str(NEVER_SENT), timezone.now()
        FilingExport.objects.filter(pk=export.pk, status=FilingExport.Status.QUEUED).update(
            status=export.status, error=export.error, finished_at=export.finished_at
        )
    else:
        BROKER.answered()


def _progress(export_id: int, percent: int, step: str) -> None:
    FilingExport.objects.filter(pk=export_id).update(progress=percent, step=step[:200])


def filing_export_run(*, export_id: int) -> FilingExport | None:
    """Build the package, store it, and record a ``filing.exported`` audit event."""
    from audit import services as audit
    from filing.package import package_build

    with transaction.atomic():
        export = FilingExport.objects.select_for_update().filter(pk=export_id).first()
        if export is None or export.status != FilingExport.Status.QUEUED:
            return export
        export.status = FilingExport.Status.RUNNING
        export.save(update_fields=["status"])
    actor = export.requested_by
    try:
        with acting_as(actor):
            data, manifest = package_build(export.service, progress=lambda pct, step: _progress(export_id, pct, step))
            digest = hashlib.sha256(data).hexdigest()
            with transaction.atomic():
                export.refresh_from_db()
                stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
                # A draft says so in its name, so that nobody files it by mistake.
                suffix = "-draft" if manifest["draft"] else ""
                export.file.save(
                    f"filing-package-{export.service_id}-{stamp}{suffix}.zip", ContentFile(data), save=False
                )
                export.sha256 = digest
                export.draft = manifest["draft"]
                export.open_items = manifest["draft_reasons"]
                export.status = FilingExport.Status.DONE
                export.progress = 100
                export.step = "done"
                export.finished_at = timezone.now()
                export.save()
                audit.filing_event(
                    event_type="filing.exported",
                    actor=actor,
                    actor_username=None if actor else "system",
                    subject=export.service,
                    filing_number=export.service.filing_number or None,
                    output_sha256=digest,
                    payload={
                        "file_sha256": digest,
                        "items": len(manifest["files"]) + 1,
                        "draft": manifest["draft"],
                        "open_items": len(export.open_items),
                    },
                )
    except Exception as exc:
        logger.exception("filing package export %s failed", export_id)
        FilingExport.objects.filter(pk=export_id).update(
            status=FilingExport.Status.FAILED, error=f"{type(exc).__name__}: {exc}"[:2000], finished_at=timezone.now()
        )
        return FilingExport.objects.get(pk=export_id)
    return export

"""Periodic and background work of the audit log; each task calls one service."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="audit.seal", soft_time_limit=240, time_limit=300)
def seal_task() -> int:
    """Seal every record not yet sealed (scheduled every AUDIT_SEAL_INTERVAL_SECONDS), then fold the records up to
    the last one sealed into the dashboard's rollups (at most AUDIT_ROLLUP_TASK_MAX_RECORDS).

    A bad record stops sealing; the sealer has logged and recorded it, so the task ends normally
    with the number of seals made before it.
    """
    from django.conf import settings

    from audit.services import SealRefused, rollups_fold, seals_make

    try:
        made = len(seals_make())
    except SealRefused as refused:
        made = len(refused.seals)
    rollups_fold(limit=settings.AUDIT_ROLLUP_TASK_MAX_RECORDS)
    return made


@shared_task(name="audit.verify", soft_time_limit=3000, time_limit=3600)
def verify_task() -> bool:
    """Verify the whole log and record the result (shown in the auditors' integrity banner, with its progress)."""
    from audit.progress import verification_forget, verification_reporter
    from audit.verification import verification_record

    try:
        return verification_record(progress=verification_reporter()).ok
    finally:
        verification_forget()


@shared_task(name="audit.purge", soft_time_limit=3000, time_limit=3600)
def purge_task() -> dict[str, int]:
    """Delete expired content and expired sealed blocks, except what legal holds keep."""
    from audit.services import retention_purge

    return retention_purge()


@shared_task(name="audit.export_run", soft_time_limit=3000, time_limit=3600)
def export_run_task(export_id: str) -> None:
    from audit.exports import export_run

    export_run(export_id=export_id)

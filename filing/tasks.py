"""Background work of the filing app; each task calls one service."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="filing.export_package", soft_time_limit=1700, time_limit=1800)
def package_export_task(export_id: int) -> None:
    """Build the filing package of one export row (routed to the exports queue)."""
    from filing.exports import filing_export_run

    filing_export_run(export_id=export_id)

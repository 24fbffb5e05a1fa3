"""Background work through a real worker: large exports on the exports queue, periodic sealing."""

from __future__ import annotations

import json
import time

import pytest

from audit import services
from audit.models import Export, LogEntry, Seal
from audit.standalone import verify_export
from genai_platform.roles import Role

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def _wait_for(predicate, timeout: float = 60.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def test_large_export_runs_on_the_worker_with_progress_and_download(
    celery_worker_thread, client_for, settings, tmp_path
):
    first = None
    for i in range(30):
        entry = services.generation_event(
            event_type="generation.requested", actor_username=f"u{i}", payload={"job_id": str(i)}
        )
        first = first or entry.seq
    services.seals_make(block_size=10)
    settings.AUDIT_EXPORT_STREAM_MAX_ROWS = 5  # so that this export goes to the worker
    client = client_for(Role.AUDITOR)

    response = client.post("/audit/exports/new/", {"format": "csv", "seq_from": str(first), "pseudonymise": "0"})

    assert response.status_code == 302
    export = Export.objects.get()
    assert response["Location"] == f"/audit/exports/{export.id}/"
    assert _wait_for(lambda: Export.objects.get().status in ("done", "failed")), Export.objects.get().status
    export.refresh_from_db()
    assert export.status == "done", export.error
    assert export.rows_done == export.rows_total >= 30
    page = client.get(f"/audit/exports/{export.id}/").content.decode()
    assert "download" in page.lower() or "下载" in page
    body = b"".join(client.get(f"/audit/exports/{export.id}/download/").streaming_content)
    manifest = client.get(f"/audit/exports/{export.id}/manifest.json").json()
    (tmp_path / "f.csv").write_bytes(body)
    (tmp_path / "m.json").write_text(json.dumps(manifest))
    report = verify_export.verify(tmp_path / "f.csv", tmp_path / "m.json", services.public_key_b64())
    assert report.ok, report.problems
    event = LogEntry.objects.filter(event_type="audit.exported").order_by("-seq").first()
    assert json.loads(event.payload)["export_id"] == str(export.id)


def test_seal_task_seals_on_the_worker(celery_worker_thread):
    from audit.tasks import seal_task

    entry = services.auth_event(event_type="auth.logout", actor_username="someone")
    seal_task.delay()
    assert _wait_for(lambda: Seal.objects.filter(last_seq__gte=entry.seq).exists())

"""The integrity banner's count of records waiting for the seal comes from the writers' counter, not a scan."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from audit import services
from audit.selectors import integrity_status

pytestmark = pytest.mark.django_db(transaction=True)


def _write(name: str) -> int:
    return services.generation_event(
        event_type="generation.requested", actor_username=name, payload={"job_id": name}
    ).seq


def test_the_banner_counts_what_waits_for_the_seal_without_counting_the_log(settings, tmp_path):
    settings.AUDIT_ANCHOR_PATH = str(tmp_path / "last-seal.json")
    services.seals_make()
    assert integrity_status()["unsealed"] == 0

    for name in ("a", "b", "c"):
        _write(name)
    with CaptureQueriesContext(connection) as queries:
        status = integrity_status()
    assert status["unsealed"] == 3
    assert not any("COUNT(" in q["sql"].upper() for q in queries.captured_queries)

    services.seals_make()
    assert integrity_status()["unsealed"] == 0

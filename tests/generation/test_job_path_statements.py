"""What the job path costs the database: the statements a submission and a run send, besides transaction control.

On PostgreSQL a queued job is one read of the serving checkpoint (with its model record, service and provider)
and of the user's facts, the job, the day's count and the audit record (its content with its number, then the
record); a run is the claim (the locked read and the update), then the finish (the update that is also
the check that the claim still holds), the outputs and the audit record. SQLite writes the audit content and the
record's number apart, one statement more for each. Moderation asks whether its keyword library, classifier and
thresholds changed at most every ``MODERATION_VERSION_CHECK_SECONDS`` per process, not per job.
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from generation.models import Job
from generation.moderation import default_moderator_set
from generation.services import job_submit
from generation.services.running import job_run
from tests.generation.factories import checkpoint_tiny

pytestmark = pytest.mark.django_db(transaction=True)

_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")
# (submission, run) of a one-image job, besides transaction control.
_STATEMENTS = {"postgresql": (5, 6), "sqlite": (6, 7)}


def _statements(queries: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in queries.captured_queries if not q["sql"].lstrip().upper().startswith(_CONTROL)]


@pytest.mark.parametrize(("kind", "params"), [("vae", {"count": 1}), ("lm", {"tune": "慢词", "opening": "春风"})])
def test_a_job_costs_a_fixed_number_of_statements(django_user_model, settings, kind, params):
    settings.BROKER_CHECK_SECONDS = 3600  # the broker answered once: not asked again while counting
    settings.MODERATION_VERSION_CHECK_SECONDS = 3600  # nor the moderation layers' versions
    default_moderator_set(None)  # a moderator built with that setting
    user = django_user_model.objects.create_user(username="maker", password="pw-123456-long")
    checkpoint_tiny(kind)
    job_run(job_id=job_submit(user=user, kind=kind, params=params).pk)  # what is read once per process is read now

    with CaptureQueriesContext(connection) as submitted:
        job = job_submit(user=user, kind=kind, params=params)
    with CaptureQueriesContext(connection) as ran:
        job_run(job_id=job.pk, worker="w")

    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED
    submission, run = _STATEMENTS[connection.vendor]
    assert len(_statements(submitted)) == submission, "\n".join(_statements(submitted))
    assert len(_statements(ran)) == run, "\n".join(_statements(ran))
    default_moderator_set(None)

"""Two submissions racing for the last unit of a user's daily quota: only one gets a job (PostgreSQL)."""

from __future__ import annotations

import json
import threading
import time

import pytest
from django.contrib.auth import get_user_model
from django.db import connection, connections, transaction
from django.utils import translation

from audit.models import LogEntry
from generation.models import Job
from generation.services import JobUnavailable, job_submit
from generation.usage import usage_job_counted
from tests.generation.factories import checkpoint_tiny

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="SQLite's IMMEDIATE transactions never run two submissions at once, so there is no race to lose",
    ),
]


def _waiting_on_a_lock(pid: int, timeout: float = 30) -> bool:
    """True once the backend ``pid`` is blocked on a row lock."""
    deadline = time.monotonic() + timeout
    with connections["default"].cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", [pid])
            row = cursor.fetchone()
            if row and row[0] == "Lock":
                return True
            time.sleep(0.05)
    return False


def test_a_submission_that_passed_the_early_check_is_refused_once_the_racing_one_commits(user_with_role, settings):
    settings.GENERATION_DAILY_QUOTA = 1
    checkpoint = checkpoint_tiny("gan")
    user = user_with_role(None, "racer")
    holding, release = threading.Event(), threading.Event()

    def first_submission_in_flight() -> None:
        # The winning submission: holds the user's row, as job_submit does, while its job is not committed yet.
        try:
            with transaction.atomic():
                get_user_model().objects.select_for_update().get(pk=user.pk)
                job = Job.objects.create(user=user, kind="gan", params={"digit": 1}, seed=1, checkpoint=checkpoint)
                usage_job_counted(job=job)
                holding.set()
                release.wait(30)
        finally:
            connections.close_all()

    outcome: dict[str, object] = {}

    def second_submission() -> None:
        try:
            with connections["default"].cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                outcome["pid"] = cursor.fetchone()[0]
            with translation.override("en"):
                outcome["job"] = job_submit(user=user, kind="gan", params={"digit": 2})
        except JobUnavailable as refusal:
            outcome["refusal"] = refusal
        finally:
            connections.close_all()

    first = threading.Thread(target=first_submission_in_flight)
    first.start()
    try:
        assert holding.wait(30)
        second = threading.Thread(target=second_submission)
        second.start()
        # The second submission sees no committed job, passes the early check, and waits for the lock.
        deadline = time.monotonic() + 30
        while "pid" not in outcome and time.monotonic() < deadline:
            time.sleep(0.01)
        assert _waiting_on_a_lock(outcome["pid"])
    finally:
        release.set()
        first.join(30)
    second.join(30)

    assert "job" not in outcome
    refusal = outcome["refusal"]
    assert isinstance(refusal, JobUnavailable) and refusal.code == "over_quota"
    assert "1 generations" in refusal.message
    assert Job.objects.filter(user=user).count() == 1
    refused = json.loads(LogEntry.objects.get(event_type="generation.refused", actor_username="racer").payload)
    assert refused["stage"] == "policy" and "today's quota" in refused["reason"]

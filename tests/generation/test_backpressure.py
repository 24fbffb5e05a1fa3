"""Backpressure: each job queue has a depth limit; past it a submission is refused (429 ``busy`` with Retry-After,
or the busy message on the form) and leaves nothing behind; a queued job shows its place and when it starts.

Nothing here runs a worker: the jobs stored by ``job_submit`` stay queued (their messages go out on commit, and
these tests' transactions never commit).
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from genai_platform.queues import Queue
from genai_platform.roles import Role
from generation.models import Job
from generation.queueing import job_queue, queue_place
from generation.services import JobUnavailable, job_submit
from generation.usage import quota_state
from tests.generation.factories import checkpoint_tiny

pytestmark = pytest.mark.django_db

GAN = {"kind": "gan", "params": {"digit": 4}}
WINDOW_MINUTES = 5  # GENERATION_THROUGHPUT_MINUTES in these tests: 300 s


@pytest.fixture(autouse=True)
def _settings(settings: Any) -> None:
    settings.GENERATION_QUEUE_DEPTH_LIMIT = 3
    settings.GENERATION_QUEUE_DEPTH_LIMITS = {}
    settings.GENERATION_THROUGHPUT_MINUTES = WINDOW_MINUTES
    settings.OUTAGE_RETRY_AFTER_SECONDS = 30
    cache.clear()  # request rates live in the cache, which outlives a test's database


@pytest.fixture
def gan_serving() -> Any:
    return checkpoint_tiny("gan")


@pytest.fixture
def filler(user_with_role: Any) -> Any:
    return user_with_role(Role.END_USER, "filler")


@pytest.fixture
def alice(user_with_role: Any) -> APIClient:
    from rest_framework.authtoken.models import Token

    user = user_with_role(Role.END_USER, "alice")
    client = APIClient(HTTP_ACCEPT_LANGUAGE="en")
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    client.user = user  # type: ignore[attr-defined]
    return client


@pytest.fixture
def ella(user_with_role: Any) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(user_with_role(Role.END_USER, "ella"))
    return client


def _fill(user: Any, n: int) -> list[Job]:
    """``n`` jobs stored queued by the submission service, as a busy queue holds them."""
    return [job_submit(user=user, kind="gan", params={"digit": i % 10}) for i in range(n)]


def _finished(user: Any, n: int, *, minutes_ago: float = 1, status: str = Job.Status.SUCCEEDED) -> None:
    """``n`` jobs a worker finished ``minutes_ago``: the queue's recent throughput."""
    when = timezone.now() - timedelta(minutes=minutes_ago)
    Job.objects.bulk_create(
        Job(user=user, kind="gan", params={"digit": 1}, seed=1, status=status, started_at=when, finished_at=when)
        for _ in range(n)
    )


def _error(response: Any) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "fields"}, body
    return body["error"]


def _refusals(audit_log: Any) -> list[dict[str, Any]]:
    return [json.loads(e.payload) for e in audit_log.filter(event_type="generation.refused")]


# ------------------------------------------------------------------------------
# The API
# ------------------------------------------------------------------------------
def test_a_full_queue_answers_429_busy_with_retry_after_and_stores_nothing(alice, filler, gan_serving, audit_log):
    _fill(filler, 3)
    # 6 jobs finished in the last 300 s: one place opens about every 50 s. Older, cancelled and refused jobs
    # did not go through a worker lately and do not count.
    _finished(filler, 6)
    _finished(filler, 20, minutes_ago=WINDOW_MINUTES + 1)
    _finished(filler, 5, status=Job.Status.CANCELLED)
    _finished(filler, 5, status=Job.Status.REFUSED)
    jobs_before = Job.objects.count()
    requested_before = audit_log.filter(event_type="generation.requested").count()

    response = alice.post("/api/v1/jobs/", GAN, format="json")

    assert response.status_code == 429, response.content
    assert response["Retry-After"] == "50"
    error = _error(response)
    assert error["code"] == "busy"
    assert "busy" in error["message"] and "about 50 seconds" in error["message"]
    assert error["fields"] == {}
    # Nothing half-made: no row, no quota used, no "requested" record; the refusal is recorded.
    assert Job.objects.count() == jobs_before
    assert not Job.objects.filter(user=alice.user).exists()
    assert quota_state(user=alice.user).used == 0
    assert audit_log.filter(event_type="generation.requested").count() == requested_before
    refusal = audit_log.get(event_type="generation.refused", actor_username="alice")
    assert json.loads(refusal.payload)["reason_code"] == "busy"


def test_retry_after_counts_the_places_to_free_and_is_at_least_one_second(alice, filler, gan_serving, settings):
    _fill(filler, 3)
    settings.GENERATION_QUEUE_DEPTH_LIMIT = 2  # two jobs must leave before a place opens
    _finished(filler, 30)  # one every 10 s

    slow = alice.post("/api/v1/jobs/", GAN, format="json")
    _finished(filler, 100_000 - 30)  # hundreds a second
    fast = alice.post("/api/v1/jobs/", GAN, format="json")

    assert slow.status_code == fast.status_code == 429
    assert slow["Retry-After"] == "20"
    assert fast["Retry-After"] == "1"


def test_with_no_job_finished_lately_retry_after_is_the_outage_wait(alice, filler, gan_serving):
    _fill(filler, 3)
    _finished(filler, 4, minutes_ago=WINDOW_MINUTES + 1)

    response = alice.post("/api/v1/jobs/", GAN, format="json")

    assert response.status_code == 429
    assert response["Retry-After"] == "30"
    assert _error(response)["code"] == "busy"


def test_under_the_limit_a_job_is_accepted_up_to_the_last_place(alice, filler, gan_serving):
    _fill(filler, 2)

    accepted = alice.post("/api/v1/jobs/", GAN, format="json")
    refused = alice.post("/api/v1/jobs/", GAN | {"params": {"digit": 5}}, format="json")

    assert accepted.status_code == 201, accepted.content
    assert Job.objects.get(public_id=accepted.json()["id"]).status == Job.Status.QUEUED
    assert refused.status_code == 429
    assert Job.objects.filter(status=Job.Status.QUEUED).count() == 3


def test_jobs_that_left_the_queue_free_their_places(alice, filler, gan_serving):
    jobs = _fill(filler, 3)
    Job.objects.filter(pk=jobs[0].pk).update(status=Job.Status.RUNNING)

    response = alice.post("/api/v1/jobs/", GAN, format="json")

    assert response.status_code == 201, response.content


def test_a_limit_for_the_job_queue_overrides_the_default_and_other_queues_do_not(alice, filler, gan_serving, settings):
    assert job_queue() == Queue.INFERENCE
    _fill(filler, 2)
    settings.GENERATION_QUEUE_DEPTH_LIMIT = 100
    settings.GENERATION_QUEUE_DEPTH_LIMITS = {Queue.DEFAULT.value: 1, Queue.EXPORTS.value: 1}
    assert alice.post("/api/v1/jobs/", GAN, format="json").status_code == 201

    settings.GENERATION_QUEUE_DEPTH_LIMITS = {Queue.INFERENCE.value: 3}
    response = alice.post("/api/v1/jobs/", GAN | {"params": {"digit": 6}}, format="json")

    assert response.status_code == 429
    assert _error(response)["code"] == "busy"


def test_a_limit_of_0_means_no_limit(alice, filler, gan_serving, settings):
    _fill(filler, 3)
    settings.GENERATION_QUEUE_DEPTH_LIMIT = 0

    assert alice.post("/api/v1/jobs/", GAN, format="json").status_code == 201


def test_a_retried_request_still_gets_its_job_when_the_queue_is_full(alice, filler, gan_serving):
    first = alice.post("/api/v1/jobs/", GAN, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    _fill(filler, 2)

    again = alice.post("/api/v1/jobs/", GAN, format="json", HTTP_IDEMPOTENCY_KEY="k-1")

    assert first.status_code == 201 and again.status_code == 200
    assert again.json()["id"] == first.json()["id"]


# ------------------------------------------------------------------------------
# The service
# ------------------------------------------------------------------------------
def test_the_service_refuses_busy_for_the_web_and_the_api_alike(filler, gan_serving, audit_log):
    _fill(filler, 3)
    _finished(filler, 3)  # one every 100 s

    with pytest.raises(JobUnavailable) as excinfo:
        job_submit(user=filler, kind="gan", params={"digit": 9})

    assert excinfo.value.code == "busy"
    assert excinfo.value.retry_after == 100
    assert Job.objects.filter(status=Job.Status.QUEUED).count() == 3
    assert [r["reason_code"] for r in _refusals(audit_log)] == ["busy"]


def test_the_depth_check_costs_a_submission_no_query_of_its_own(filler, gan_serving, settings):
    settings.BROKER_CHECK_SECONDS = 3600  # the broker answered once: not asked again while measuring
    from generation.services.admission import _admission_read

    for limit in (0, 100):  # what is read once per process (or prepared once per connection) is read now
        settings.GENERATION_QUEUE_DEPTH_LIMIT = limit
        job_submit(user=filler, kind="gan", params={"digit": 0})

    with CaptureQueriesContext(connection) as limited:
        job_submit(user=filler, kind="gan", params={"digit": 1})
    settings.GENERATION_QUEUE_DEPTH_LIMIT = 0
    with CaptureQueriesContext(connection) as unlimited:
        job_submit(user=filler, kind="gan", params={"digit": 2})

    counting = _admission_read(count_queue=True, with_key=False)  # a prepared statement on PostgreSQL

    def depth_counts(queries: CaptureQueriesContext) -> list[str]:
        return [
            q["sql"] for q in queries if counting.name in q["sql"] or ("COUNT" in q["sql"] and "'queued'" in q["sql"])
        ]

    # The waiting jobs are counted in the read of the user's facts, a subquery of the same statement.
    assert len(limited) == len(unlimited)
    assert len(depth_counts(limited)) == 1 and depth_counts(unlimited) == []


# ------------------------------------------------------------------------------
# The web form
# ------------------------------------------------------------------------------
def test_the_form_says_the_service_is_busy_and_when_to_try_again(ella, filler, gan_serving, audit_log):
    _fill(filler, 3)
    _finished(filler, 12)  # one every 25 s

    response = ella.post("/generate/", {"kind": "gan", "gan-digit": "1", "gan-count": "1"})

    assert response.status_code == 429
    assert response["Retry-After"] == "25"
    page = response.content.decode()
    box = page.split('id="unavailable"')[1].split("</div>")[0]
    assert "The service is busy" in box and "about 25 seconds" in box
    assert Job.objects.filter(status=Job.Status.QUEUED).count() == 3
    assert [r["reason_code"] for r in _refusals(audit_log)] == ["busy"]


def test_the_form_under_the_limit_makes_the_job(ella, filler, gan_serving):
    _fill(filler, 2)

    response = ella.post("/generate/", {"kind": "gan", "gan-digit": "1", "gan-count": "1"})

    assert response.status_code == 302
    assert Job.objects.filter(status=Job.Status.QUEUED).count() == 3


# ------------------------------------------------------------------------------
# A queued job's place and when it starts
# ------------------------------------------------------------------------------
def _queued_fourth(ella: Client, filler: Any) -> Job:
    _fill(filler, 3)
    response = ella.post("/generate/", {"kind": "gan", "gan-digit": "1", "gan-count": "1"}, follow=False)
    assert response.status_code == 302
    return Job.objects.get(user__username="ella")


def test_the_job_page_shows_the_place_in_the_queue_and_when_the_job_starts(ella, filler, gan_serving, settings):
    settings.GENERATION_QUEUE_DEPTH_LIMIT = 10
    job = _queued_fourth(ella, filler)
    _finished(filler, 60)  # one every 5 s: place 4 starts in about 20 s
    _finished(filler, 60, minutes_ago=WINDOW_MINUTES + 1)

    page = ella.get(f"/jobs/{job.public_id}/").content.decode()
    live = ella.get(f"/jobs/{job.public_id}/live/").content.decode()

    for html in (page, live):
        assert "Position 4 in the queue, starts in about 20 seconds." in html


def test_the_place_moves_up_as_jobs_ahead_start_and_later_jobs_do_not_count(ella, filler, gan_serving, settings):
    settings.GENERATION_QUEUE_DEPTH_LIMIT = 10
    job = _queued_fourth(ella, filler)
    _fill(filler, 2)  # after it
    _finished(filler, 1)  # one every 300 s: place 3 starts in about 15 minutes
    ahead = Job.objects.filter(user=filler, status=Job.Status.QUEUED).order_by("created_at", "pk").first()
    assert ahead is not None
    Job.objects.filter(pk=ahead.pk).update(status=Job.Status.RUNNING)

    place = queue_place(job)
    live = ella.get(f"/jobs/{job.public_id}/live/", {"seen": "queued:4"})

    assert place is not None and (place.position, place.estimated_start_seconds) == (3, 900)
    assert live.status_code == 200  # a new place is a change
    assert "Position 3 in the queue, starts in about 15 minutes." in live.content.decode()
    assert ella.get(f"/jobs/{job.public_id}/live/", {"seen": "queued:3"}).status_code == 204


def test_without_recent_throughput_the_page_gives_the_place_only(ella, filler, gan_serving, settings):
    settings.GENERATION_QUEUE_DEPTH_LIMIT = 10
    job = _queued_fourth(ella, filler)

    page = ella.get(f"/jobs/{job.public_id}/").content.decode()

    assert "Position in the queue: 4." in page and "starts in about" not in page


def test_the_api_job_detail_gives_the_place_and_the_estimate(alice, filler, gan_serving, settings):
    settings.GENERATION_QUEUE_DEPTH_LIMIT = 10
    _fill(filler, 2)
    created = alice.post("/api/v1/jobs/", GAN, format="json").json()
    _finished(filler, 30)  # one every 10 s: place 3 starts in about 30 s

    detail = alice.get(f"/api/v1/jobs/{created['id']}/").json()

    assert (detail["queue_position"], detail["estimated_start_seconds"]) == (3, 30)
    listed = alice.get("/api/v1/jobs/").json()["results"][0]
    assert "queue_position" not in listed  # two counts per job: only when one job is read

    Job.objects.filter(public_id=created["id"]).update(status=Job.Status.RUNNING)
    running = alice.get(f"/api/v1/jobs/{created['id']}/").json()
    assert (running["queue_position"], running["estimated_start_seconds"]) == (None, None)

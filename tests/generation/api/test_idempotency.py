"""Idempotency-Key as the IETF draft (draft-ietf-httpapi-idempotency-key-header) has it: the same key and body
give the first job (200), the same key with another body 422, racing duplicates one 201 and the rest the same
job with 200, and a key expires (then it makes a new job). On the embedded default and on PostgreSQL."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connections
from django.utils import timezone
from rest_framework.test import APIClient

from generation.models import Job
from generation.services import IdempotencyKeyReused, job_submit, request_hash

JOBS = "/api/v1/jobs/"
PAYLOAD = {"kind": "gan", "params": {"digit": 1, "count": 1}}


def _post(client: APIClient, payload: dict, key: str):
    return client.post(JOBS, payload, format="json", HTTP_IDEMPOTENCY_KEY=key, HTTP_ACCEPT_LANGUAGE="en")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "other",
    [
        {"kind": "gan", "params": {"digit": 2, "count": 1}},
        {"kind": "gan", "params": {"digit": 1, "count": 1, "seed": 5}},
        {"kind": "vae", "params": {"count": 1}},
    ],
)
def test_the_same_key_with_a_different_body_gets_422_with_the_error_body(alice, gan_serving, other, audit_log):
    first = _post(alice, PAYLOAD, "k-1")

    again = _post(alice, other, "k-1")

    assert first.status_code == 201
    assert again.status_code == 422
    assert again.json() == {
        "error": {
            "code": "idempotency_key_reused",
            "message": (
                "This idempotency key was already used for a different request. Send the same request to get its "
                "job again, or use a new key for a new request."
            ),
            "fields": {},
        }
    }
    assert Job.objects.count() == 1
    assert audit_log.filter(event_type="generation.requested").count() == 1


@pytest.mark.django_db
def test_the_same_body_with_its_keys_in_another_order_is_the_same_request(alice, gan_serving):
    first = _post(alice, {"params": {"count": 1, "digit": 1}, "kind": "gan"}, "k-order")
    again = _post(alice, PAYLOAD, "k-order")

    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]


@pytest.mark.django_db
def test_the_request_hash_is_stored_with_the_job(alice, gan_serving):
    response = _post(alice, PAYLOAD, "k-hash")

    job = Job.objects.get(public_id=response.json()["id"])
    assert job.request_hash == request_hash("gan", PAYLOAD["params"]) and len(job.request_hash) == 64


@pytest.fixture
def fresh_moderator():
    from generation.moderation import default_moderator_set

    default_moderator_set(None)
    yield
    default_moderator_set(None)


@pytest.mark.django_db
def test_a_job_refused_by_moderation_is_replayed_and_checked_like_any_other(api_for, fresh_moderator):
    from filing.safety.services import keyword_create
    from tests.generation.factories import checkpoint_tiny

    checkpoint_tiny("lm")
    keyword_create(keyword="禁词", risk_code="A.1.1", action="block", actor="test")
    carol = api_for(username="carol")
    blocked = {"kind": "lm", "params": {"tune": "慢词", "opening": "春风 禁 词"}}

    first = _post(carol, blocked, "k-refused")
    again = _post(carol, blocked, "k-refused")
    other = _post(carol, {"kind": "lm", "params": {"tune": "慢词", "opening": "春风花月"}}, "k-refused")

    assert (first.status_code, again.status_code, other.status_code) == (201, 200, 422)
    assert first.json()["status"] == "refused" and first.json()["id"] == again.json()["id"]
    assert Job.objects.count() == 1


@pytest.mark.django_db
def test_a_key_expires_and_then_makes_a_new_job(alice, gan_serving, settings):
    settings.GENERATION_IDEMPOTENCY_KEY_HOURS = 24
    first = _post(alice, PAYLOAD, "k-old")
    Job.objects.filter(public_id=first.json()["id"]).update(created_at=timezone.now() - timedelta(hours=23))
    within = _post(alice, PAYLOAD, "k-old")
    Job.objects.filter(public_id=first.json()["id"]).update(created_at=timezone.now() - timedelta(hours=25))

    after = _post(alice, {"kind": "gan", "params": {"digit": 7, "count": 1}}, "k-old")
    replay = _post(alice, {"kind": "gan", "params": {"digit": 7, "count": 1}}, "k-old")

    assert (first.status_code, within.status_code, after.status_code, replay.status_code) == (201, 200, 201, 200)
    assert within.json()["id"] == first.json()["id"]
    assert after.json()["id"] != first.json()["id"] == Job.objects.get(idempotency_key=None).public_id.__str__()
    assert replay.json()["id"] == after.json()["id"]
    assert Job.objects.count() == 2


@pytest.mark.django_db
def test_the_service_raises_for_the_same_key_with_other_parameters(alice, gan_serving):
    job_submit(user=alice.user, kind="gan", params={"digit": 3}, idempotency_key="svc")

    with pytest.raises(IdempotencyKeyReused):
        job_submit(user=alice.user, kind="gan", params={"digit": 4}, idempotency_key="svc")
    assert job_submit(user=alice.user, kind="gan", params={"digit": 3}, idempotency_key="svc").replayed


@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(120)
@pytest.mark.parametrize("quota", [50, 1], ids=["quota-left", "last-unit"])
def test_parallel_requests_with_one_key_make_one_job_and_one_201(alice, gan_serving, settings, audit_log, quota):
    # With one unit of quota left, the duplicates still get the job (200), not 429.
    settings.GENERATION_DAILY_QUOTA = quota
    settings.REST_FRAMEWORK = settings.REST_FRAMEWORK | {
        "DEFAULT_THROTTLE_RATES": settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] | {"enduser_jobs": "1000/min"}
    }
    token = alice._credentials["HTTP_AUTHORIZATION"]
    start = threading.Barrier(20)
    answers: list[tuple[int, str]] = []

    def send() -> None:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=token)
        try:
            start.wait(30)
            response = _post(client, PAYLOAD, "k-race")
            answers.append((response.status_code, response.json().get("id", "")))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=send) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(90)

    statuses = sorted(status for status, _ in answers)
    assert len(answers) == 20
    assert statuses == [200] * 19 + [201], statuses
    assert Job.objects.count() == 1
    assert {job_id for _, job_id in answers} == {str(Job.objects.get().public_id)}
    assert audit_log.filter(event_type="generation.requested").count() == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(120)
def test_parallel_requests_with_one_key_and_different_bodies_store_only_the_first(alice, gan_serving, settings):
    settings.REST_FRAMEWORK = settings.REST_FRAMEWORK | {
        "DEFAULT_THROTTLE_RATES": settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] | {"enduser_jobs": "1000/min"}
    }
    token = alice._credentials["HTTP_AUTHORIZATION"]
    start = threading.Barrier(10)
    answers: list[tuple[int, int]] = []

    def send(digit: int) -> None:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=token)
        try:
            start.wait(30)
            answers.append((digit, _post(client, {"kind": "gan", "params": {"digit": digit}}, "k-mixed").status_code))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=send, args=(digit,)) for digit in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(90)

    job = Job.objects.get()
    assert sorted(status for _, status in answers) == [201] + [422] * 9
    assert dict(answers)[job.params["digit"]] == 201

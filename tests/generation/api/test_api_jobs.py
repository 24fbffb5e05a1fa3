"""The end-user API's jobs: submitting (parameters, idempotency, quota, throttling), listing, own-data isolation,
cancelling, and the error body of a malformed request."""

from __future__ import annotations

import uuid

import pytest

from audit.models import LogEntry
from generation.models import Job
from tests.generation.api.helpers import error_of, job_make, output_make

pytestmark = pytest.mark.django_db


# ------------------------------------------------------------------------------
# Jobs
# ------------------------------------------------------------------------------
def test_creating_a_job_queues_it(alice, gan_serving):
    response = alice.post("/api/v1/jobs/", {"kind": "gan", "params": {"digit": 4, "count": 2}}, format="json")

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == "queued"
    assert body["params"] == {"digit": 4, "count": 2}
    job = Job.objects.get(public_id=body["id"])
    assert job.user == alice.user
    assert body["url"].endswith(f"/api/v1/jobs/{job.public_id}/")


def test_bad_parameters_get_a_400_with_a_message_per_field(alice):
    response = alice.post("/api/v1/jobs/", {"kind": "gan", "params": {"digit": 12, "count": 0}}, format="json")

    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "invalid"
    assert set(error["fields"]) == {"digit", "count"}
    assert "0 到 9" in error["fields"]["digit"][0]


def test_error_messages_follow_the_accept_language_header(alice):
    response = alice.post(
        "/api/v1/jobs/", {"kind": "gan", "params": {"digit": 12}}, format="json", HTTP_ACCEPT_LANGUAGE="en"
    )

    assert "0 to 9" in error_of(response)["fields"]["digit"][0]


def test_unknown_kind_and_missing_params_are_field_errors(alice):
    response = alice.post("/api/v1/jobs/", {"kind": "music"}, format="json")

    assert response.status_code == 400
    assert set(error_of(response)["fields"]) == {"kind", "params"}


def test_a_kind_without_a_trained_net_gets_503_with_the_reason(alice):
    response = alice.post("/api/v1/jobs/", {"kind": "lm", "params": {"tune": "浣溪沙", "opening": "春"}}, format="json")

    assert response.status_code == 503
    error = error_of(response)
    assert error["code"] == "net_not_ready"
    assert error["message"]
    assert not Job.objects.exists()


def test_a_suspended_user_gets_403_with_the_reason(alice, gan_serving):
    from generation.models import Suspension

    Suspension.objects.create(user=alice.user, rule=Suspension.Rule.DAILY, violations=5, reason="test")

    response = alice.post("/api/v1/jobs/", {"kind": "gan", "params": {"digit": 1}}, format="json")

    assert response.status_code == 403
    error = error_of(response)
    assert error["code"] == "user_suspended" and "投诉" in error["message"]
    assert not Job.objects.exists()


def test_a_retried_post_with_the_same_idempotency_key_returns_the_first_job(alice, gan_serving):
    payload = {"kind": "gan", "params": {"digit": 1}}

    first = alice.post("/api/v1/jobs/", payload, format="json", HTTP_IDEMPOTENCY_KEY="retry-me")
    second = alice.post("/api/v1/jobs/", payload, format="json", HTTP_IDEMPOTENCY_KEY="retry-me")
    other = alice.post("/api/v1/jobs/", payload, format="json", HTTP_IDEMPOTENCY_KEY="another")

    assert (first.status_code, second.status_code, other.status_code) == (201, 200, 201)
    assert first.json()["id"] == second.json()["id"] != other.json()["id"]
    assert Job.objects.count() == 2


def test_a_new_jobs_answer_lists_no_outputs_without_asking_and_a_replay_lists_those_made_since(alice, gan_serving):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from generation.services.running import job_run

    payload = {"kind": "gan", "params": {"digit": 2}}
    with CaptureQueriesContext(connection) as queries:
        first = alice.post("/api/v1/jobs/", payload, format="json", HTTP_IDEMPOTENCY_KEY="made-once")
    assert first.status_code == 201 and first.json()["outputs"] == []
    assert not [q["sql"] for q in queries.captured_queries if "generation_output" in q["sql"]]

    job_run(job_id=Job.objects.get(public_id=first.json()["id"]).pk)
    replay = alice.post("/api/v1/jobs/", payload, format="json", HTTP_IDEMPOTENCY_KEY="made-once")
    assert replay.status_code == 200
    assert replay.json()["status"] == "succeeded" and len(replay.json()["outputs"]) == 1


def test_a_serializers_model_fields_are_built_once_and_copied_for_each_serializer_in_its_language():
    from django.utils import translation
    from rest_framework import serializers

    from generation.api.serializers import JobDetailSerializer, JobSerializer

    first, second = JobSerializer(), JobSerializer()
    assert first.fields["status"] is not second.fields["status"]
    assert first.fields["outputs"].child is not second.fields["outputs"].child
    assert (first.fields["status"].parent, second.fields["status"].parent) == (first, second)

    def shape(fields):  # type: ignore[no-untyped-def]
        return {name: (type(f), str(f.label), str(f.help_text), f.read_only, f.source) for name, f in fields.items()}

    for serializer_class in (JobSerializer, JobDetailSerializer):
        for language in ("en", "zh-hans", "en"):
            with translation.override(language):
                serializer = serializer_class()
                built_now = serializers.ModelSerializer.get_fields(serializer)
                for name, field in built_now.items():
                    field.bind(field_name=name, parent=serializer)
                assert shape(serializer_class().fields) == shape(built_now)


def test_the_same_idempotency_key_of_two_users_makes_two_jobs(alice, bob, gan_serving):
    payload = {"kind": "gan", "params": {"digit": 1}}

    a = alice.post("/api/v1/jobs/", payload, format="json", HTTP_IDEMPOTENCY_KEY="k")
    b = bob.post("/api/v1/jobs/", payload, format="json", HTTP_IDEMPOTENCY_KEY="k")

    assert a.status_code == b.status_code == 201
    assert a.json()["id"] != b.json()["id"]


def test_an_overlong_idempotency_key_is_refused(alice, gan_serving):
    response = alice.post(
        "/api/v1/jobs/", {"kind": "gan", "params": {"digit": 1}}, format="json", HTTP_IDEMPOTENCY_KEY="k" * 200
    )

    assert response.status_code == 400
    assert "Idempotency-Key" in error_of(response)["fields"]


def test_over_the_daily_quota_gets_429_with_a_clear_message(alice, gan_serving, settings):
    settings.GENERATION_DAILY_QUOTA = 2
    job_make(alice.user)
    job_make(alice.user, status=Job.Status.REFUSED)  # refused jobs do not count
    alice.post("/api/v1/jobs/", {"kind": "gan", "params": {"digit": 1}}, format="json", HTTP_IDEMPOTENCY_KEY="last")

    response = alice.post("/api/v1/jobs/", {"kind": "gan", "params": {"digit": 1}}, format="json")
    retried = alice.post(
        "/api/v1/jobs/", {"kind": "gan", "params": {"digit": 1}}, format="json", HTTP_IDEMPOTENCY_KEY="last"
    )

    assert response.status_code == 429
    error = error_of(response)
    assert error["code"] == "over_quota"
    assert "2" in error["message"]
    assert 0 < int(response["Retry-After"]) <= 24 * 3600
    # A retry of a request that got through still gets its job.
    assert retried.status_code == 200
    assert LogEntry.objects.filter(event_type="generation.refused", actor_username="alice").exists()


def test_job_submissions_are_throttled_per_user(alice, bob, gan_serving, settings):
    settings.REST_FRAMEWORK = settings.REST_FRAMEWORK | {
        "DEFAULT_THROTTLE_RATES": settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] | {"enduser_jobs": "2/min"}
    }
    payload = {"kind": "gan", "params": {"digit": 1}}
    for _ in range(2):
        assert alice.post("/api/v1/jobs/", payload, format="json").status_code == 201

    response = alice.post("/api/v1/jobs/", payload, format="json")

    assert response.status_code == 429
    assert int(response["Retry-After"]) >= 1
    assert error_of(response)["code"] == "throttled"
    # Reading is not a submission, and another user has their own allowance.
    assert alice.get("/api/v1/jobs/").status_code == 200
    assert bob.post("/api/v1/jobs/", payload, format="json").status_code == 201


def test_the_list_holds_only_ones_own_jobs_newest_first_and_paginated(alice, bob):
    mine = [job_make(alice.user, kind=kind) for kind in ("gan", "vae", "lm")]
    job_make(bob.user)

    page1 = alice.get("/api/v1/jobs/?page_size=2").json()
    page2 = alice.get(page1["next"]).json()

    assert "count" not in page1 and page2["next"] is None and page2["previous"]
    ids = [j["id"] for j in page1["results"] + page2["results"]]
    assert ids == [str(j.public_id) for j in reversed(mine)]


def test_the_list_filters_by_kind_and_status(alice):
    job_make(alice.user, kind="gan", status=Job.Status.SUCCEEDED)
    failed = job_make(alice.user, kind="gan", status=Job.Status.FAILED)
    job_make(alice.user, kind="lm", status=Job.Status.FAILED)

    body = alice.get("/api/v1/jobs/?kind=gan&status=failed").json()

    assert [j["id"] for j in body["results"]] == [str(failed.public_id)]


def test_an_unknown_filter_value_is_a_field_error(alice):
    response = alice.get("/api/v1/jobs/?status=exploded")

    assert response.status_code == 400
    assert "status" in error_of(response)["fields"]


def test_a_job_shows_its_outputs_and_refusal_reason(alice):
    job = job_make(alice.user)
    output = output_make(job)
    refused = job_make(alice.user, status=Job.Status.REFUSED, reason="The prompt asks for something we refuse.")

    body = alice.get(f"/api/v1/jobs/{job.public_id}/").json()
    refused_body = alice.get(f"/api/v1/jobs/{refused.public_id}/").json()

    assert body["outputs"][0]["produce_id"] == output.produce_id
    assert body["outputs"][0]["download_url"].endswith(f"/api/v1/outputs/{output.produce_id}/download/")
    assert refused_body["status"] == "refused"
    assert refused_body["reason"] == "The prompt asks for something we refuse."


def test_another_users_job_is_a_404_like_a_missing_one(alice, bob):
    theirs = job_make(bob.user, status=Job.Status.QUEUED)

    seen = alice.get(f"/api/v1/jobs/{theirs.public_id}/")
    cancel = alice.post(f"/api/v1/jobs/{theirs.public_id}/cancel/")
    missing = alice.get(f"/api/v1/jobs/{uuid.uuid4()}/")

    assert seen.status_code == cancel.status_code == missing.status_code == 404
    assert seen.json() == missing.json()
    theirs.refresh_from_db()
    assert theirs.status == Job.Status.QUEUED


def test_a_queued_job_can_be_cancelled_and_a_running_one_cannot(alice):
    queued = job_make(alice.user, status=Job.Status.QUEUED)
    running = job_make(alice.user, status=Job.Status.RUNNING)

    ok = alice.post(f"/api/v1/jobs/{queued.public_id}/cancel/")
    late = alice.post(f"/api/v1/jobs/{running.public_id}/cancel/")

    assert ok.status_code == 200 and ok.json()["status"] == "cancelled"
    assert late.status_code == 409
    assert error_of(late)["code"] == "not_cancellable"
    running.refresh_from_db()
    assert running.status == Job.Status.RUNNING


def test_malformed_json_and_wrong_methods_get_the_error_body(alice):
    bad_json = alice.post("/api/v1/jobs/", "{not json", content_type="application/json")
    wrong_method = alice.delete("/api/v1/jobs/")

    assert bad_json.status_code == 400 and error_of(bad_json)["code"] == "parse_error"
    assert wrong_method.status_code == 405 and error_of(wrong_method)["code"] == "method_not_allowed"

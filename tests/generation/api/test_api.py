"""The end-user API: every endpoint for every role, own-data isolation, errors, quotas and throttling."""

from __future__ import annotations

import uuid

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from audit.models import LogEntry
from filing.models import Complaint
from genai_platform.roles import Role
from generation.models import Job
from tests.generation.api.helpers import job_make, output_make

pytestmark = pytest.mark.django_db

ENDPOINTS = [
    ("get", "/api/v1/nets/"),
    ("get", "/api/v1/jobs/"),
    ("post", "/api/v1/jobs/"),
    ("get", "/api/v1/jobs/{job}/"),
    ("post", "/api/v1/jobs/{job}/cancel/"),
    ("get", "/api/v1/outputs/"),
    ("get", "/api/v1/outputs/{output}/"),
    ("get", "/api/v1/outputs/{output}/download/"),
    ("get", "/api/v1/reports/"),
    ("post", "/api/v1/reports/"),
    ("delete", "/api/v1/auth/token/"),
]


def _error(response) -> dict:
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message", "fields"}, body
    return body["error"]


@pytest.fixture
def owned(user_with_role):
    owner = user_with_role(Role.END_USER, "owner")
    job = job_make(owner, status=Job.Status.QUEUED)
    return {"job": job.public_id, "output": output_make(job_make(owner)).produce_id}


# ------------------------------------------------------------------------------
# Roles
# ------------------------------------------------------------------------------
@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_anonymous_callers_get_401_with_the_error_body(owned, method, path):
    response = getattr(APIClient(), method)(path.format(**owned))

    assert response.status_code == 401
    assert _error(response)["code"] == "not_authenticated"


@pytest.mark.parametrize("role", [Role.AUDITOR, Role.OPERATOR, None])
@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_users_without_the_end_user_role_get_403(api_for, owned, role, method, path):
    client = api_for(role)

    response = getattr(client, method)(path.format(**owned))

    assert response.status_code == 403
    assert _error(response)["code"] == "permission_denied"


def test_session_authentication_works_for_the_web_ui(client_for):
    client = client_for(Role.END_USER)

    assert client.get("/api/v1/nets/").status_code == 200


# ------------------------------------------------------------------------------
# Tokens
# ------------------------------------------------------------------------------
def test_a_token_is_created_from_username_and_password_and_then_authenticates(user_with_role):
    user_with_role(Role.END_USER, "carol")

    response = APIClient().post("/api/v1/auth/token/", {"username": "carol", "password": "pw-for-tests-123"})

    assert response.status_code == 200
    key = response.json()["token"]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.get("/api/v1/jobs/").status_code == 200
    # Asking again gives the same token.
    again = APIClient().post("/api/v1/auth/token/", {"username": "carol", "password": "pw-for-tests-123"})
    assert again.json()["token"] == key


def test_wrong_password_gets_a_400_and_no_token(user_with_role):
    user_with_role(Role.END_USER, "carol")

    response = APIClient().post("/api/v1/auth/token/", {"username": "carol", "password": "nope"})

    assert response.status_code == 400
    assert "密码" in _error(response)["message"]
    assert not Token.objects.exists()


def test_deleting_the_token_revokes_it(alice):
    assert alice.delete("/api/v1/auth/token/").status_code == 204

    assert alice.get("/api/v1/jobs/").status_code == 401


def test_token_requests_are_throttled(settings, user_with_role):
    settings.REST_FRAMEWORK = settings.REST_FRAMEWORK | {
        "DEFAULT_THROTTLE_RATES": settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] | {"token": "2/min"}
    }
    client = APIClient()
    for _ in range(2):
        client.post("/api/v1/auth/token/", {"username": "x", "password": "y"})

    response = client.post("/api/v1/auth/token/", {"username": "x", "password": "y"})

    assert response.status_code == 429
    assert int(response["Retry-After"]) >= 1
    assert _error(response)["code"] == "throttled"


# ------------------------------------------------------------------------------
# Nets
# ------------------------------------------------------------------------------
def test_nets_say_which_kinds_are_available_with_limits_and_quota(alice, settings):
    settings.GENERATION_DAILY_QUOTA = 5
    job_make(alice.user)

    body = alice.get("/api/v1/nets/").json()

    assert [n["kind"] for n in body["nets"]] == ["gan", "vae", "lm"]
    assert not any(n["available"] for n in body["nets"])
    assert body["limits"]["max_images"] == settings.GENERATION_LIMITS["max_images"]
    assert body["quota"] | {"resets_at": None} == {"limit": 5, "used": 1, "remaining": 4, "resets_at": None}


def test_a_kind_with_a_serving_checkpoint_is_available(alice):
    from tests.generation.factories import checkpoint_tiny

    checkpoint_tiny("gan")

    nets = {n["kind"]: n["available"] for n in alice.get("/api/v1/nets/").json()["nets"]}

    assert nets == {"gan": True, "vae": False, "lm": False}


def test_a_net_whose_model_is_not_approved_is_unavailable_with_the_reason(alice):
    from filing.models import ModelRecord
    from tests.generation.factories import checkpoint_tiny

    checkpoint = checkpoint_tiny("gan")
    ModelRecord.objects.filter(pk=checkpoint.model_record_id).update(approval=ModelRecord.Approval.PENDING)

    gan = alice.get("/api/v1/nets/", HTTP_ACCEPT_LANGUAGE="en").json()["nets"][0]
    response = alice.post("/api/v1/jobs/", {"kind": "gan", "params": {"digit": 1}}, format="json")

    assert gan["available"] is False and "approved" in gan["unavailable_reason"]
    assert response.status_code == 503 and _error(response)["code"] == "model_not_approved"


# ------------------------------------------------------------------------------
# Jobs
# ------------------------------------------------------------------------------
@pytest.fixture
def gan_serving():
    from tests.generation.factories import checkpoint_tiny

    return checkpoint_tiny("gan")


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
    error = _error(response)
    assert error["code"] == "invalid"
    assert set(error["fields"]) == {"digit", "count"}
    assert "0 到 9" in error["fields"]["digit"][0]


def test_error_messages_follow_the_accept_language_header(alice):
    response = alice.post(
        "/api/v1/jobs/", {"kind": "gan", "params": {"digit": 12}}, format="json", HTTP_ACCEPT_LANGUAGE="en"
    )

    assert "0 to 9" in _error(response)["fields"]["digit"][0]


def test_unknown_kind_and_missing_params_are_field_errors(alice):
    response = alice.post("/api/v1/jobs/", {"kind": "music"}, format="json")

    assert response.status_code == 400
    assert set(_error(response)["fields"]) == {"kind", "params"}


def test_a_kind_without_a_trained_net_gets_503_with_the_reason(alice):
    response = alice.post("/api/v1/jobs/", {"kind": "lm", "params": {"tune": "浣溪沙", "opening": "春"}}, format="json")

    assert response.status_code == 503
    error = _error(response)
    assert error["code"] == "net_not_ready"
    assert error["message"]
    assert not Job.objects.exists()


def test_a_suspended_user_gets_403_with_the_reason(alice, gan_serving):
    from generation.models import Suspension

    Suspension.objects.create(user=alice.user, rule=Suspension.Rule.DAILY, violations=5, reason="test")

    response = alice.post("/api/v1/jobs/", {"kind": "gan", "params": {"digit": 1}}, format="json")

    assert response.status_code == 403
    error = _error(response)
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
    assert "Idempotency-Key" in _error(response)["fields"]


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
    error = _error(response)
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
    assert _error(response)["code"] == "throttled"
    # Reading is not a submission, and another user has their own allowance.
    assert alice.get("/api/v1/jobs/").status_code == 200
    assert bob.post("/api/v1/jobs/", payload, format="json").status_code == 201


def test_the_list_holds_only_ones_own_jobs_newest_first_and_paginated(alice, bob):
    mine = [job_make(alice.user, kind=kind) for kind in ("gan", "vae", "lm")]
    job_make(bob.user)

    page1 = alice.get("/api/v1/jobs/?page_size=2").json()
    page2 = alice.get(page1["next"]).json()

    assert page1["count"] == 3
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
    assert "status" in _error(response)["fields"]


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
    assert _error(late)["code"] == "not_cancellable"
    running.refresh_from_db()
    assert running.status == Job.Status.RUNNING


# ------------------------------------------------------------------------------
# Outputs
# ------------------------------------------------------------------------------
def test_outputs_list_only_ones_own_and_filter_by_job(alice, bob):
    first, second = job_make(alice.user), job_make(alice.user, kind="lm")
    a, b = output_make(first), output_make(second)
    output_make(job_make(bob.user))

    everything = alice.get("/api/v1/outputs/").json()
    of_first = alice.get(f"/api/v1/outputs/?job={first.public_id}").json()

    assert {o["produce_id"] for o in everything["results"]} == {a.produce_id, b.produce_id}
    assert [o["produce_id"] for o in of_first["results"]] == [a.produce_id]
    assert alice.get("/api/v1/outputs/?job=not-a-uuid").status_code == 400


def test_output_metadata_has_media_digest_and_text(alice):
    output = output_make(job_make(alice.user, kind="lm"))

    body = alice.get(f"/api/v1/outputs/{output.produce_id}/").json()

    assert body["media"] == "text"
    assert body["text"] == "春风花月夜"
    assert body["sha256"] == output.sha256
    assert body["size_bytes"] == len("春风花月夜".encode())
    assert body["job"] == str(output.job.public_id)


def test_download_serves_the_stored_file_and_records_it(alice):
    output = output_make(job_make(alice.user))

    response = alice.get(f"/api/v1/outputs/{output.produce_id}/download/", HTTP_ACCEPT="image/png")

    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert f'filename="ai-generated-{output.produce_id}.png"' in response["Content-Disposition"]
    data = b"".join(response.streaming_content)
    assert data.startswith(b"\x89PNG")
    record = LogEntry.objects.get(event_type="generation.output_downloaded")
    assert record.produce_id == output.produce_id and record.actor_username == "alice"


def test_text_downloads_are_utf8_markdown(alice):
    output = output_make(job_make(alice.user, kind="lm"))

    response = alice.get(f"/api/v1/outputs/{output.produce_id}/download/")

    assert response["Content-Type"] == "text/markdown; charset=utf-8"
    assert b"".join(response.streaming_content).decode() == "春风花月夜"


def test_another_users_output_is_a_404_for_metadata_and_download(alice, bob):
    theirs = output_make(job_make(bob.user))

    assert alice.get(f"/api/v1/outputs/{theirs.produce_id}/").status_code == 404
    response = alice.get(f"/api/v1/outputs/{theirs.produce_id}/download/")
    assert response.status_code == 404
    assert _error(response)["code"] == "not_found"
    assert not LogEntry.objects.filter(event_type="generation.output_downloaded").exists()


# ------------------------------------------------------------------------------
# Reports
# ------------------------------------------------------------------------------
def test_reporting_an_output_files_a_complaint_with_a_due_date_and_an_audit_record(alice, settings):
    output = output_make(job_make(alice.user))

    response = alice.post(
        "/api/v1/reports/", {"produce_id": output.produce_id, "reason": "label", "details": "No AI mark."}
    )

    assert response.status_code == 201
    complaint = Complaint.objects.get()
    assert (complaint.produce_id, complaint.user_id, complaint.category, complaint.channel) == (
        output.produce_id,
        str(alice.user.pk),
        "label",
        "api",
    )
    assert (complaint.due_at - complaint.received_at).days == settings.COMPLAINT_RESPONSE_DAYS
    body = response.json()
    assert body["status"] == "received" and body["due_at"]
    record = LogEntry.objects.get(event_type="complaint.received")
    assert record.produce_id == output.produce_id and record.actor_username == "alice"
    assert alice.get("/api/v1/reports/").json()["results"][0]["id"] == complaint.pk


def test_reporting_another_users_output_is_a_404(alice, bob):
    theirs = output_make(job_make(bob.user))

    response = alice.post("/api/v1/reports/", {"produce_id": theirs.produce_id, "reason": "illegal"})

    assert response.status_code == 404
    assert not Complaint.objects.exists()


def test_a_report_needs_a_known_reason(alice):
    output = output_make(job_make(alice.user))

    response = alice.post("/api/v1/reports/", {"produce_id": output.produce_id, "reason": "boring"})

    assert response.status_code == 400
    assert "reason" in _error(response)["fields"]


def test_users_list_only_their_own_reports(alice, bob):
    output_report = output_make(job_make(bob.user))
    bob.post("/api/v1/reports/", {"produce_id": output_report.produce_id, "reason": "other"})

    assert alice.get("/api/v1/reports/").json()["count"] == 0
    assert bob.get("/api/v1/reports/").json()["count"] == 1


def test_malformed_json_and_wrong_methods_get_the_error_body(alice):
    bad_json = alice.post("/api/v1/jobs/", "{not json", content_type="application/json")
    wrong_method = alice.delete("/api/v1/jobs/")

    assert bad_json.status_code == 400 and _error(bad_json)["code"] == "parse_error"
    assert wrong_method.status_code == 405 and _error(wrong_method)["code"] == "method_not_allowed"


@pytest.fixture
def lm_serving():
    from tests.generation.factories import checkpoint_tiny

    return checkpoint_tiny("lm")


def test_the_nets_list_the_tunes_the_text_model_writes_to(alice, lm_serving):
    nets = {net["kind"]: net for net in alice.get("/api/v1/nets/").json()["nets"]}

    tunes = nets["lm"]["tunes"]
    assert [t["name"] for t in tunes] == ["测试调", "长短句", "慢词"]
    assert tunes[0] == {"name": "测试调", "form": [3, 3], "pattern": "3，3。", "characters": 8}
    assert set(nets["lm"]["parameters"]) == {"tune", "opening", "temperature", "top_k", "seed"}
    assert nets["gan"]["tunes"] == []


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"opening": "春"}, "tune"),
        ({"tune": "水调歌头"}, "tune"),
        ({"tune": "测试调", "opening": "春风明月"}, "opening"),
        ({"prompt": "春风", "length": 20}, "prompt"),
    ],
)
def test_a_text_job_names_a_known_tune_and_an_opening_that_fits(alice, lm_serving, params, field):
    response = alice.post("/api/v1/jobs/", {"kind": "lm", "params": params}, format="json")

    assert response.status_code == 400
    assert field in _error(response)["fields"]
    assert not Job.objects.exists()


def test_a_text_job_writes_one_whole_piece_in_the_tunes_form(alice, lm_serving):
    from generation import services
    from generation.tunes import clause_lengths

    response = alice.post(
        "/api/v1/jobs/", {"kind": "lm", "params": {"tune": "长短句", "opening": "春风"}}, format="json"
    )
    job = services.job_run(job_id=Job.objects.get(public_id=response.json()["id"]).pk, worker="test")

    title, *lines = job.outputs.get().text.split("\n")
    piece = [line for line in lines if line and "人工智能生成" not in line]  # the text label is its own line
    assert title == "长短句" and piece[0].startswith("春风")
    assert clause_lengths("".join(piece)) == (4, 5, 4), lines

"""Bad input to the API gets a 4xx with the error body, never a 500, and writes nothing."""

from __future__ import annotations

import json

import pytest

from audit.models import LogEntry
from generation.models import Job
from tests.generation.api.helpers import error_of

pytestmark = pytest.mark.django_db


def _post_raw(client, body: str, **extra):
    """JSON text as written, so that escapes such as \\ud800 reach the server unchanged."""
    return client.post("/api/v1/jobs/", body, content_type="application/json", HTTP_ACCEPT_LANGUAGE="en", **extra)


@pytest.mark.parametrize(
    "opening",
    [
        "春\\u0000风",  # NUL: PostgreSQL cannot store it
        "春\\ud800风",  # a lone surrogate: not encodable as UTF-8
        "春\\ufffe风",  # a non-character
        "春\\ufdd0风",
    ],
)
def test_bad_characters_in_a_prompt_are_a_400_naming_the_field(alice, lm_serving, opening):
    before = LogEntry.objects.count()
    response = _post_raw(alice, '{"kind": "lm", "params": {"tune": "测试调", "opening": "' + opening + '"}}')

    assert response.status_code == 400, response.content
    error = error_of(response)
    assert error["code"] == "invalid"
    assert list(error["fields"]) == ["params.opening"]
    assert "U+" in error["fields"]["params.opening"][0]
    assert not Job.objects.exists()
    assert LogEntry.objects.count() == before


def test_bad_characters_in_a_key_or_a_top_level_field_are_named_too(alice, lm_serving):
    in_key = _post_raw(alice, '{"kind": "lm", "params": {"tune": "测试调", "op\\u0000": "x"}}')
    in_kind = _post_raw(alice, '{"kind": "l\\u0000m", "params": {}}')

    assert in_key.status_code == 400 and list(error_of(in_key)["fields"]) == ["params"]
    assert in_kind.status_code == 400 and list(error_of(in_kind)["fields"]) == ["kind"]


def test_a_nul_in_the_token_username_is_a_400(user_with_role, client):
    response = client.post(
        "/api/v1/auth/token/", {"username": "a\x00b", "password": "x"}, content_type="application/json"
    )
    assert response.status_code == 400 and "username" in error_of(response)["fields"]


def test_a_report_with_a_non_character_is_a_400(alice):
    response = alice.post(
        "/api/v1/reports/", {"produce_id": "x", "reason": "illegal", "details": "bad\ufffftext"}, format="json"
    )
    assert response.status_code == 400 and "details" in error_of(response)["fields"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"digit": 3, "count": True}, "count"),
        ({"digit": 3, "count": "2"}, "count"),
        ({"digit": True}, "digit"),
        ({"digit": 3, "seed": "7"}, "seed"),
        ({"digit": 3, "seed": False}, "seed"),
    ],
)
def test_counts_and_seeds_must_be_json_integers(alice, gan_serving, params, field):
    response = alice.post("/api/v1/jobs/", {"kind": "gan", "params": params}, format="json", HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 400, response.json()
    assert field in error_of(response)["fields"]
    assert "whole number" in error_of(response)["fields"][field][0]
    assert not Job.objects.exists()


def test_whole_numbers_still_pass(alice, gan_serving):
    params = {"digit": 3, "count": 2, "seed": 5}
    response = alice.post("/api/v1/jobs/", {"kind": "gan", "params": params}, format="json")
    assert response.status_code == 201, response.json()


@pytest.mark.parametrize("fmt", ["multipart", "form"])
def test_job_creation_takes_json_only(alice, gan_serving, fmt):
    if fmt == "multipart":
        response = alice.post("/api/v1/jobs/", {"kind": "gan", "params": '{"digit": 3}'}, format="multipart")
    else:
        response = alice.post("/api/v1/jobs/", "kind=gan&params=x", content_type="application/x-www-form-urlencoded")

    assert response.status_code == 415
    assert error_of(response)["code"] == "unsupported_media_type"
    assert not Job.objects.exists()


def test_a_body_over_the_limit_is_a_413_with_the_error_body(alice, gan_serving, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    body = json.dumps({"kind": "gan", "params": {"digit": 3, "pad": "x" * 20_000}})

    response = _post_raw(alice, body)

    assert response.status_code == 413
    assert error_of(response)["code"] == "too_large"
    assert "10000" in error_of(response)["message"].replace(",", "")
    assert not Job.objects.exists()


def test_a_large_body_without_a_usable_length_is_still_a_413(alice, gan_serving, settings):
    """The default limit of about 2.5 MB, the size the finding used; Django reads the body in the view."""
    body = json.dumps({"kind": "gan", "params": {"digit": 3, "pad": "x" * 3_000_000}})

    response = _post_raw(alice, body)

    assert response.status_code == 413 and error_of(response)["code"] == "too_large"

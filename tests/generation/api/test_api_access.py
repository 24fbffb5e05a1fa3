"""The end-user API's callers: every endpoint for every role, the session of the web UI, and tokens."""

from __future__ import annotations

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from genai_platform.roles import Role
from generation.models import Job
from tests.generation.api.helpers import error_of, job_make, output_make

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
    assert error_of(response)["code"] == "not_authenticated"


@pytest.mark.parametrize("role", [Role.AUDITOR, Role.OPERATOR, None])
@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_users_without_the_end_user_role_get_403(api_for, owned, role, method, path):
    client = api_for(role)

    response = getattr(client, method)(path.format(**owned))

    assert response.status_code == 403
    assert error_of(response)["code"] == "permission_denied"


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
    assert "密码" in error_of(response)["message"]
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
    assert error_of(response)["code"] == "throttled"

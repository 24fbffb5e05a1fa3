"""The API end to end with a real worker: submit, poll until done, download the delivered file."""

from __future__ import annotations

import time

import pytest
from django.core.cache import cache
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from genai_platform.roles import Role
from tests.generation.factories import checkpoint_tiny

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def _poll(client: APIClient, url: str, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = client.get(url).json()
        if body["status"] not in ("queued", "running"):
            return body
        time.sleep(0.2)
    raise AssertionError(f"job still {body['status']} after {timeout} s")


@pytest.mark.parametrize(
    ("kind", "params", "media", "magic"),
    [
        ("gan", {"digit": 7, "count": 2, "seed": 3}, "image", b"\x89PNG"),
        ("lm", {"tune": "长短句", "opening": "春风", "seed": 3}, "text", None),
    ],
)
def test_a_job_submitted_through_the_api_runs_on_a_worker_and_downloads(
    celery_worker_thread, user_with_role, kind, params, media, magic
):
    cache.clear()
    checkpoint_tiny(kind)
    user = user_with_role(Role.END_USER, "runner")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")

    created = client.post("/api/v1/jobs/", {"kind": kind, "params": params}, format="json", HTTP_IDEMPOTENCY_KEY="a1")
    assert created.status_code == 201, created.json()
    body = _poll(client, created.json()["url"])

    assert body["status"] == "succeeded", body["reason"]
    assert [o["media"] for o in body["outputs"]] == [media] * len(body["outputs"])
    download = client.get(body["outputs"][0]["download_url"])
    assert download.status_code == 200
    data = b"".join(download.streaming_content)
    assert len(data) == client.get(body["outputs"][0]["url"]).json()["size_bytes"]
    if magic:
        assert data.startswith(magic)
    else:
        assert data.decode().strip()

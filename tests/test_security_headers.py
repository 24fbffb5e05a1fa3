"""Security headers on every kind of page, and stored files never served from MEDIA_URL (issue 23)."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.test import Client
from django.urls import clear_url_caches

from genai_platform.roles import Role

EXPECTED_CSP = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data:",
    "object-src": "'none'",
    "frame-ancestors": "'none'",
}


def _directives(header: str) -> dict[str, str]:
    found = {}
    for part in header.split(";"):
        name, _, value = part.strip().partition(" ")
        if name:
            found[name] = value.strip()
    return found


def _assert_security_headers(response) -> None:  # type: ignore[no-untyped-def]
    header = response.headers.get("Content-Security-Policy")
    assert header, f"{response.request['PATH_INFO']} has no Content-Security-Policy"
    directives = _directives(header)
    for name, value in EXPECTED_CSP.items():
        assert directives.get(name) == value, (name, header)
    assert "unsafe-inline" not in header and "unsafe-eval" not in header
    assert response.headers.get("Referrer-Policy") == "same-origin"
    policy = response.headers.get("Permissions-Policy", "")
    for feature in ("camera=()", "microphone=()", "geolocation=()", "payment=()"):
        assert feature in policy, policy


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path, role",
    [
        ("/", None),
        ("/accounts/login/", None),
        ("/api/docs/", None),
        ("/api/docs/?script=", None),
        ("/api/v1/nets/", Role.END_USER),
        ("/generate/", Role.END_USER),
        ("/account/", Role.END_USER),
        ("/admin/", Role.OPERATOR),
        ("/admin/generation/trainingrun/add/", Role.OPERATOR),
        ("/audit/", Role.AUDITOR),
    ],
)
def test_pages_send_csp_referrer_and_permissions_policy(client_for, path: str, role: Role | None) -> None:
    client = client_for(role) if role else Client()
    response = client.get(path, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200, (path, response.status_code)
    _assert_security_headers(response)


@pytest.mark.django_db
def test_swagger_page_has_no_inline_code(client) -> None:
    """The API docs page loads its start-up script from its own ?script URL, not from an inline <script>."""
    html = client.get("/api/docs/").content.decode()
    assert "<style" not in html
    for tag in html.split("<script")[1:]:
        assert "src=" in tag.split(">", 1)[0], tag[:120]


@pytest.mark.django_db
def test_browsable_api_pages_have_no_inline_style_element(client_for) -> None:
    """DRF's browsable pages would carry an inline <style> of syntax colours, which the policy refuses."""
    response = client_for(Role.END_USER).get("/api/v1/nets/", HTTP_ACCEPT="text/html")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/html")
    assert "<style" not in response.content.decode()


def _reload_urls() -> None:
    importlib.reload(sys.modules["genai_platform.urls"])
    clear_url_caches()


@pytest.fixture
def debug_urls(settings) -> Iterator[None]:  # type: ignore[no-untyped-def]
    """The URLconf as ``runserver`` builds it in development (DEBUG=True), put back afterwards."""
    settings.DEBUG = True
    _reload_urls()
    yield
    settings.DEBUG = False
    _reload_urls()


@pytest.mark.django_db
def test_media_is_not_served_in_development(debug_urls, user_with_role, client) -> None:
    """With DEBUG=True an output, its copy without the visible label and a checkpoint's weights are not reachable
    under /media/, by anonymous clients or signed-in ones; the output stays reachable through its own view."""
    from generation.models import Output
    from tests.generation.api.helpers import job_make, output_make

    owner = user_with_role(Role.END_USER, "owner")
    owner_client = Client()
    owner_client.force_login(owner)
    job = job_make(owner)
    output = output_make(job)
    unlabelled = default_storage.save(f"outputs/{job.public_id.hex}/{output.produce_id}-raw.png", ContentFile(b"raw"))
    Output.objects.filter(pk=output.pk).update(file_unlabelled=unlabelled)
    weights = default_storage.save("checkpoints/gan-test.pt", ContentFile(b"weights"))
    for name in (output.file.name, unlabelled, weights):
        assert default_storage.exists(name)
        for who in (client, owner_client):
            response = who.get(f"/media/{name}")
            assert response.status_code in (403, 404), (name, response.status_code)
            assert b"weights" not in b"".join(getattr(response, "streaming_content", [response.content]))
    assert owner_client.get(f"/outputs/{output.produce_id}/file/").status_code == 200
    assert client.get(f"/outputs/{output.produce_id}/file/").status_code in (302, 403, 404)


@pytest.mark.django_db
def test_training_samples_only_for_operators(client_for, client) -> None:
    """The picture of an epoch's samples goes through an operator-only view (it was a /media/ link)."""
    from generation.models import TrainingEpoch, TrainingRun
    from tests.generation.api.helpers import png_bytes

    run = TrainingRun.objects.create(kind="gan", epochs=1)
    epoch = TrainingEpoch.objects.create(
        run=run, epoch=1, seconds=1.0, samples=ContentFile(png_bytes(), name=f"run{run.pk}-epoch1.png")
    )
    url = f"/ops/training/epochs/{epoch.pk}/samples.png"
    response = client_for(Role.OPERATOR).get(url)
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    assert b"".join(response.streaming_content) == png_bytes()
    assert client_for(Role.END_USER).get(url).status_code == 403
    assert client.get(url).status_code == 302
    state = client_for(Role.OPERATOR, "op2").get(f"/ops/training/{run.pk}/state.json").json()
    assert state["epochs"][0]["samples"] == url

"""Content without the visible label (Labeling Measures Art 9): only when the service offers it and the
user accepted the labelling obligation; the implicit label stays; every such download is logged."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from PIL import Image

from genai_platform.roles import Role
from generation import services
from generation.labels import verify_file
from tests.generation.factories import checkpoint_tiny, service_serving

pytestmark = pytest.mark.django_db


@pytest.fixture
def service():
    for kind in ("gan", "lm"):
        checkpoint_tiny(kind)
    service = service_serving()
    service.unlabelled_delivery = True
    service.labelling_obligation_version = "2026-1"
    service.save()
    return service


@pytest.fixture
def enduser(user_with_role):
    return user_with_role(Role.END_USER, "reader")


def _job(user, kind="gan"):
    params = {"digit": 3, "count": 1} if kind == "gan" else {"tune": "测试调", "opening": "春"}
    job = services.job_submit(user=user, kind=kind, params=params)
    return services.job_run(job_id=job.pk)


def test_an_accepting_user_downloads_without_the_visible_label_and_the_download_is_logged(service, enduser, audit_log):
    services.labelling_obligation_set(user=enduser, service=service, accepted=True)
    output = _job(enduser).outputs.get()
    assert output.file_unlabelled

    from django.test import Client

    client = Client()
    client.force_login(enduser)
    response = client.get(f"/api/v1/outputs/{output.produce_id}/download/?visible_label=0")

    assert response.status_code == 200
    plain = b"".join(response.streaming_content)
    result = verify_file(plain, filename="x.png")
    assert result.genuine and result.produce_id == output.produce_id
    with output.file.open("rb") as f:
        labelled = np.asarray(Image.open(io.BytesIO(f.read())).convert("L"))
    unlabelled = np.asarray(Image.open(io.BytesIO(plain)).convert("L"))
    differing = np.argwhere(labelled != unlabelled)
    assert differing.size, "the visible label should be the only difference"
    assert differing[:, 0].min() > labelled.shape[0] // 2 and differing[:, 1].min() > labelled.shape[1] // 2
    event = audit_log.get(event_type="generation.output_downloaded")
    payload = json.loads(event.payload)
    assert payload["labelled"] is False and payload["agreement_version"] == "2026-1"
    assert event.actor_username == "reader" and event.produce_id == output.produce_id


def test_text_without_the_notice_keeps_its_implicit_label(service, enduser):
    services.labelling_obligation_set(user=enduser, service=service, accepted=True)
    output = _job(enduser, "lm").outputs.get()

    with output.file_unlabelled.open("rb") as f:
        plain = f.read()

    assert "本内容由人工智能生成" not in plain.decode()
    assert verify_file(plain, filename="x.md").genuine


def test_without_acceptance_there_is_no_unlabelled_file_and_the_api_refuses(service, enduser, client, audit_log):
    output = _job(enduser).outputs.get()
    client.force_login(enduser)

    response = client.get(f"/api/v1/outputs/{output.produce_id}/download/?visible_label=0")

    assert not output.file_unlabelled
    assert response.status_code == 403
    assert "labelling obligation" in response.json()["error"]["message"] or response.json()["error"]["message"]
    assert not audit_log.filter(event_type="generation.output_downloaded").exists()


def test_a_new_obligation_version_needs_a_new_acceptance(service, enduser):
    services.labelling_obligation_set(user=enduser, service=service, accepted=True)
    service.labelling_obligation_version = "2026-2"
    service.save()

    assert services.unlabelled_delivery_version(user=enduser, service=service) is None
    assert not _job(enduser).outputs.get().file_unlabelled


def test_accepting_in_the_account_settings(service, enduser, client):
    client.force_login(enduser)

    page = client.get("/account/").content.decode()
    response = client.post("/account/", {"action": "labelling", "accept": "1"})

    assert "2026-1" in page
    assert response.status_code == 302
    assert services.unlabelled_delivery_version(user=enduser, service=service) == "2026-1"

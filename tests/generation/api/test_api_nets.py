"""The end-user API's nets: which kinds are available, with the limits and the quota; the tunes of the text model
and text jobs written to a tune."""

from __future__ import annotations

import pytest

from generation.models import Job
from tests.generation.api.helpers import error_of, job_make

pytestmark = pytest.mark.django_db


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
    assert response.status_code == 503 and error_of(response)["code"] == "model_not_approved"


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
    assert field in error_of(response)["fields"]
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

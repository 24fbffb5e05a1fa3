"""The read-only API: auditors read records, filters and proofs; nobody writes."""

from __future__ import annotations

import pytest

from audit import integrity, services
from genai_platform.roles import Role

pytestmark = pytest.mark.django_db


@pytest.fixture
def logged():
    seqs = [
        services.generation_event(
            event_type="generation.refused",
            actor_username=f"p{i}",
            decision="refused",
            risk_codes=["C.2"] if i == 2 else [],
            payload={"reason": "r"},
        ).seq
        for i in range(5)
    ]
    services.seals_make(block_size=4)
    return seqs


def test_auditor_lists_filters_and_gets_a_proof(client_for, logged):
    client = client_for(Role.AUDITOR)
    data = client.get("/audit/api/records/", {"risk_code": "C.2"}).json()
    assert [r["seq"] for r in data["results"]] == [logged[2]]
    assert data["results"][0]["risk_codes"] == ["C.2"]
    assert data["results"][0]["payload"] == {"reason": "r"}
    proof = client.get(f"/audit/api/records/{logged[1]}/proof/").json()
    assert proof["sealed"] and proof["valid"]
    steps = [(s["side"], s["hash"]) for s in proof["path"]]
    assert integrity.merkle_proof_check(proof["record_hash"], steps, proof["seal"]["merkle_root"])
    assert client.get("/audit/api/seals/").status_code == 200
    assert client.get("/audit/api/records/", {"time_to": "later"}).status_code == 400


def test_api_is_read_only_and_for_auditors_only(client_for, logged):
    client = client_for(Role.AUDITOR)
    url = f"/audit/api/records/{logged[0]}/"
    assert client.post("/audit/api/records/", {}).status_code == 405
    assert client.put(url, {}, content_type="application/json").status_code == 405
    assert client.delete(url).status_code == 405
    for role in (Role.END_USER, Role.OPERATOR):
        assert client_for(role).get("/audit/api/records/").status_code == 403


@pytest.mark.parametrize("path", ["/audit/api/records/1.5e-3/", "/audit/api/records/x.y/proof/", "/audit/api/seals/-/"])
def test_an_address_the_api_does_not_route_answers_with_the_error_body(client_for, path):
    response = client_for(Role.AUDITOR).get(path)

    assert response.status_code == 404 and response["Content-Type"] == "application/json"
    assert response.json()["error"]["code"] == "not_found"

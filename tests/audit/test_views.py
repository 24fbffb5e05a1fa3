"""Auditor pages: reachable by auditors only; filters, record proof, dashboards, exports."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest
from django.core.management import call_command

from audit import services
from audit.models import Export, LogEntry, Seal
from audit.standalone import verify_export
from genai_platform.roles import Role

pytestmark = pytest.mark.django_db

AUDITOR_PAGES = ["/audit/", "/audit/dashboards/", "/audit/exports/", "/audit/catalogue/"]


@pytest.fixture
def logged():
    first = None
    for i in range(6):
        entry = services.generation_event(
            event_type="generation.refused" if i % 2 else "generation.succeeded",
            actor_username=f"person{i}",
            decision="refused" if i % 2 else "allowed",
            risk_codes=["B.3.1"] if i % 2 else [],
            produce_id=f"PID{i}",
            payload={"reason": "r"} if i % 2 else {"job_id": str(i), "latency_ms": 100 * (i + 1)},
        )
        first = first or entry.seq
    services.seals_make(block_size=4)
    return first


@pytest.mark.parametrize("role", [None, Role.END_USER, Role.OPERATOR])
def test_other_roles_are_refused(client_for, logged, role):
    client = client_for(role)
    for url in [*AUDITOR_PAGES, f"/audit/records/{logged}/"]:
        assert client.get(url).status_code == 403, url
    response = client.post("/audit/exports/new/", {"format": "csv"})
    assert response.status_code == 403
    assert not Export.objects.exists()


def test_anonymous_goes_to_login_and_public_key_is_public(client, logged):
    response = client.get("/audit/")
    assert response.status_code == 302 and "login" in response["Location"]
    key = client.get("/audit/public-key").json()
    assert key["public_key"] == services.public_key_b64()
    assert key["algorithm"] == "Ed25519"


def test_auditor_sees_the_list_with_filters_and_banner(client_for, logged):
    client = client_for(Role.AUDITOR)
    for url in AUDITOR_PAGES:
        assert client.get(url).status_code == 200, url
    page = client.get("/audit/", {"risk_code": "B.3.1"}, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "person1" in page and "person0" not in page
    last = Seal.objects.order_by("-number").first()
    assert f"Last seal: no. {last.number}, records up to {last.last_seq}" in page
    assert "The log has not been verified yet." in page or "Last verification" in page
    call_command("audit_verify")
    page = client.get("/audit/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Last verification:" in page and "<strong>OK</strong>" in page
    bad = client.get("/audit/", {"time_from": "last tuesday"})
    assert bad.status_code == 400
    assert "time_from" in bad.content.decode()


def test_record_detail_shows_the_seal_and_a_valid_proof(client_for, logged):
    client = client_for(Role.AUDITOR)
    response = client.get(f"/audit/records/{logged + 1}/")
    assert response.status_code == 200
    assert response.context["proof"]["valid"] is True
    assert response.context["proof"]["seal"].first_seq <= logged + 1
    assert client.get("/audit/records/99999999/").status_code == 404


def test_dashboards_render_charts(client_for, logged):
    page = client_for(Role.AUDITOR).get("/audit/dashboards/").content.decode()
    assert page.count("<svg") >= 3
    assert "B.3.1" in page


def test_small_export_streams_with_a_manifest_link(client_for, logged, tmp_path):
    client = client_for(Role.AUDITOR)
    response = client.post("/audit/exports/new/", {"format": "csv", "seq_from": str(logged), "pseudonymise": "0"})
    assert response.status_code == 200
    body = b"".join(response.streaming_content)
    rows = list(csv.DictReader(io.StringIO(body.decode())))
    assert [int(r["seq"]) for r in rows][:6] == list(range(logged, logged + 6))
    export_id = response["X-Audit-Export-Id"]
    manifest = client.get(f"/audit/exports/{export_id}/manifest.json").json()
    (tmp_path / "f.csv").write_bytes(body)
    (tmp_path / "m.json").write_text(json.dumps(manifest))
    assert verify_export.verify(tmp_path / "f.csv", tmp_path / "m.json", services.public_key_b64()).ok
    # another auditor cannot fetch it
    assert client_for(Role.AUDITOR, "other").get(f"/audit/exports/{export_id}/manifest.json").status_code == 404
    assert LogEntry.objects.filter(event_type="audit.exported").exists()


def test_small_xlsx_export_comes_back_at_once_and_the_list_offers_file_and_manifest(client_for, logged, tmp_path):
    client = client_for(Role.AUDITOR)
    response = client.post("/audit/exports/new/", {"format": "xlsx", "seq_from": str(logged), "pseudonymise": "0"})

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    # Named in the zone of the auditors' pages (Beijing time unless configured), with its offset.
    assert re.search(r'filename="audit-\d{8}T\d{6}\+0800-[0-9a-f]{8}\.xlsx"', response["Content-Disposition"])
    body = b"".join(response.streaming_content)
    export_id = response["X-Audit-Export-Id"]
    manifest = client.get(f"/audit/exports/{export_id}/manifest.json").json()
    (tmp_path / "f.xlsx").write_bytes(body)
    (tmp_path / "m.json").write_text(json.dumps(manifest))
    assert verify_export.verify(tmp_path / "f.xlsx", tmp_path / "m.json", services.public_key_b64()).ok

    listing = client.get("/audit/exports/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert f'href="/audit/exports/{export_id}/download/"' in listing
    assert f'href="/audit/exports/{export_id}/manifest.json"' in listing
    assert b"".join(client.get(f"/audit/exports/{export_id}/download/").streaming_content) == body


def test_pseudonymised_by_default_and_content_needs_permission(client_for, logged):
    client = client_for(Role.AUDITOR)
    response = client.post("/audit/exports/new/", {"format": "jsonl", "pseudonymise": ["0", "1"]})
    body = b"".join(response.streaming_content)
    assert b"person1" not in body
    assert client.post("/audit/exports/new/", {"format": "csv", "content": "1"}).status_code == 403


def test_pages_speak_chinese_and_english(client_for, logged):
    client = client_for(Role.AUDITOR)
    assert "审计日志" in client.get("/audit/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "Audit log" in client.get("/audit/", HTTP_ACCEPT_LANGUAGE="en").content.decode()


def test_catalogue_page_lists_every_event_type(client_for):
    from audit.catalogue import EVENT_TYPES

    page = client_for(Role.AUDITOR).get("/audit/catalogue/").content.decode()
    assert all(name in page for name in EVENT_TYPES)

"""The public surfaces: key, verify page, verify API (no login) and ``manage.py label_verify``."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from filing.services import provider_create
from generation.labels.verify import MAX_VERIFY_BYTES
from tests.generation.labels import pngwalk
from tests.generation.labels.conftest import OWN_USCC, PRODUCE_ID

pytestmark = [pytest.mark.django_db, pytest.mark.smoke]


@pytest.fixture
def provider():  # type: ignore[no-untyped-def]
    return provider_create(legal_name="示例科技有限公司", uscc=OWN_USCC)


def upload(data: bytes, name: str) -> io.BytesIO:
    handle = io.BytesIO(data)
    handle.name = name
    return handle


def test_public_key_is_served_without_login(client: Client) -> None:
    response = client.get("/.well-known/aigc-label-keys.json")
    assert response.status_code == 200
    body = response.json()
    assert body["keys"][0]["alg"] == "EdDSA"
    assert body["pem"].startswith("-----BEGIN PUBLIC KEY-----")


def test_verify_page_anonymous_genuine(client: Client, provider, labelled_png: bytes) -> None:  # type: ignore[no-untyped-def]
    assert client.get("/labels/verify/").status_code == 200
    response = client.post("/labels/verify/", {"file": upload(labelled_png, "digit.png")})
    assert response.status_code == 200
    page = response.content.decode()
    assert "verify-genuine" in page and PRODUCE_ID in page and "GAN1" in page


def test_verify_page_without_provider_on_file_says_foreign(client: Client, labelled_png: bytes) -> None:
    response = client.post("/labels/verify/", {"file": upload(labelled_png, "digit.png")})
    assert "verify-foreign_producer" in response.content.decode()


def test_verify_page_bad_inputs(client: Client, provider, labelled_png: bytes) -> None:  # type: ignore[no-untyped-def]
    response = client.post("/labels/verify/", {})
    assert response.status_code == 400 and "Choose a file" in response.content.decode()
    stripped = pngwalk.without_chunk(labelled_png, pngwalk.label_chunk_index(labelled_png))
    response = client.post("/labels/verify/", {"file": upload(stripped, "digit.png")})
    assert "verify-no_label" in response.content.decode()
    response = client.post("/labels/verify/", {"file": upload(b"hello", "x.png")})
    assert response.status_code == 200 and "not a PNG image" in response.content.decode()


def test_api_verdicts(client: Client, provider, labelled_png: bytes) -> None:  # type: ignore[no-untyped-def]
    response = client.post("/api/v1/labels/verify/", {"file": upload(labelled_png, "digit.png")})
    assert response.status_code == 200
    body = response.json()
    assert body["verdict"] == "genuine"
    assert body["produce_id"] == PRODUCE_ID and body["model_code"] == "GAN1" and body["signed_at"]
    assert body["label"]["ContentProducer"].startswith("0011" + OWN_USCC)

    broken = labelled_png[:100]
    response = client.post("/api/v1/labels/verify/", {"file": upload(broken, "digit.png")})
    assert response.status_code == 400 and response.json()["verdict"] == "unreadable"

    response = client.post("/api/v1/labels/verify/", {})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid" and response.json()["error"]["fields"]["file"]


def test_api_refuses_an_oversized_body_before_reading_it(client: Client) -> None:
    response = client.post(
        "/api/v1/labels/verify/",
        data=b"x",
        content_type="multipart/form-data; boundary=zzz",
        CONTENT_LENGTH=str(MAX_VERIFY_BYTES * 2),
    )
    assert response.status_code == 413
    assert set(response.json()) == {"error"}
    assert response.json()["error"]["code"] == "too_large" and "file" in response.json()["error"]["fields"]


def test_command_genuine_and_failures(tmp_path: Path, labelled_png: bytes, capsys: pytest.CaptureFixture[str]) -> None:
    good = tmp_path / "digit.png"
    good.write_bytes(labelled_png)
    call_command("label_verify", str(good), own_uscc=[OWN_USCC])
    assert "Genuine and unaltered" in capsys.readouterr().out

    call_command("label_verify", str(good), "--json", own_uscc=[OWN_USCC])
    assert json.loads(capsys.readouterr().out)["verdict"] == "genuine"

    stripped = tmp_path / "stripped.png"
    stripped.write_bytes(pngwalk.without_chunk(labelled_png, pngwalk.label_chunk_index(labelled_png)))
    with pytest.raises(CommandError, match="no AIGC label") as exc:
        call_command("label_verify", str(stripped), own_uscc=[OWN_USCC])
    assert exc.value.returncode == 1

    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 10)
    with pytest.raises(CommandError) as exc:
        call_command("label_verify", str(bad), own_uscc=[OWN_USCC])
    assert exc.value.returncode == 2

    with pytest.raises(CommandError, match="is not a file") as exc:
        call_command("label_verify", str(tmp_path / "missing.png"))
    assert exc.value.returncode == 2


def test_command_uses_the_providers_on_file(tmp_path: Path, provider, labelled_png: bytes) -> None:  # type: ignore[no-untyped-def]
    good = tmp_path / "digit.png"
    good.write_bytes(labelled_png)
    call_command("label_verify", str(good))


def test_auditors_see_the_audit_records_of_the_output(client_for, provider, labelled_png: bytes) -> None:  # type: ignore[no-untyped-def]
    from audit import services as audit
    from genai_platform.roles import Role

    audit.generation_event(
        event_type="generation.succeeded",
        actor_username="system:worker",
        subject=("output", "1", "output 1"),
        produce_id=PRODUCE_ID,
        payload={"job_id": "1"},
    )
    auditor = client_for(Role.AUDITOR)
    body = auditor.post("/api/v1/labels/verify/", {"file": upload(labelled_png, "digit.png")}).json()
    (record,) = body["audit_records"]
    assert record["event_type"] == "generation.succeeded" and record["actor"] == "system:worker"
    page = auditor.post("/labels/verify/", {"file": upload(labelled_png, "digit.png")}).content.decode()
    assert "generation.succeeded" in page

    end_user = client_for(Role.END_USER)
    body = end_user.post("/api/v1/labels/verify/", {"file": upload(labelled_png, "digit.png")}).json()
    assert body["verdict"] == "genuine" and "audit_records" not in body
    page = (
        Client(HTTP_ACCEPT_LANGUAGE="en")
        .post("/labels/verify/", {"file": upload(labelled_png, "digit.png")})
        .content.decode()
    )
    assert "generation.succeeded" not in page

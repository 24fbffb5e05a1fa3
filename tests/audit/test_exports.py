"""Exports: match the database, carry a manifest the standalone verifier accepts, redact on request."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import call_command
from django.core.management.base import CommandError

from audit import integrity, services
from audit.exports import export_create, export_stream, export_write_file
from audit.models import Export, LogEntry
from audit.selectors import FilterError, LogFilters
from audit.standalone import verify_export
from genai_platform.roles import Role

pytestmark = pytest.mark.django_db

STANDALONE = Path(__file__).resolve().parents[2] / "audit" / "standalone" / "verify_export.py"


@pytest.fixture
def logged(user_with_role):
    """Records from two people with content, some refused with risk codes, sealed in blocks of 4."""
    alice = user_with_role(None, "alice")
    bob = user_with_role(None, "bob")
    start = services.auth_event(event_type="auth.logout", actor_username="system:test").seq + 1
    for i in range(9):
        who = alice if i % 2 else bob
        services.generation_event(
            event_type="generation.refused" if i % 3 == 0 else "generation.requested",
            actor=who,
            source_ip="198.51.100.7",
            source_port=40000 + i,
            user_agent="Mozilla/5.0 test",
            subject=who,
            filing_number="F-001",
            model_record="gan v1",
            decision="refused" if i % 3 == 0 else "allowed",
            risk_codes=["A.1.2"] if i % 3 == 0 else [],
            produce_id=f"P{i}",
            input_content=f"prompt {i} from {who.username}",
            payload={"reason": "x", "job_id": str(i)} if i % 3 == 0 else {"job_id": str(i)},
        )
    services.auth_event(event_type="auth.login_failed", payload={"username": "alice"})
    services.label_event(  # text that CSV, JSON and spreadsheets each treat specially
        event_type="label.verified",
        actor_username='q"uote\\back,comma\nline\ttab\x01ctl 中文 \u2028',
        user_agent="=1+2",
        subject=("generation.output", "7", "  spaced  "),
        payload={"valid": False, "reason": 'say "no"\\\n'},
    )
    services.seals_make(block_size=4)
    services.generation_event(event_type="generation.requested", actor=alice, payload={"job_id": "unsealed"})
    return start


def _export(tmp_path, fmt, *, user=None, pseudonymise=False, include_content=False, **filters):
    export = export_create(
        user=user,
        fmt=fmt,
        filters=LogFilters.from_mapping(filters),
        pseudonymise=pseudonymise,
        include_content=include_content,
    )
    path = tmp_path / f"out.{fmt}"
    manifest = export_write_file(export=export, path=path)
    manifest_path = tmp_path / f"out.{fmt}.manifest.json"
    manifest_path.write_text(json.dumps(manifest))
    return path, manifest_path, manifest


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "xlsx"])
def test_full_export_matches_the_database_and_verifies(tmp_path, logged, fmt):
    expected = list(LogEntry.objects.filter(seq__gte=logged).order_by("seq"))
    path, manifest_path, manifest = _export(tmp_path, fmt, seq_from=str(logged))

    rows = list(verify_export.READERS[fmt](path))
    assert [r["seq"] for r in rows] == [e.seq for e in expected]
    for row, entry in zip(rows, expected, strict=True):
        for name in integrity.RECORD_FIELDS[1:]:
            assert row[name] == getattr(entry, name), name
        assert row["created_at"] == integrity.time_canonical(entry.created_at)
        assert row["record_hash"] == entry.record_hash
    assert manifest["row_count"] == len(expected)
    assert (manifest["first_seq"], manifest["last_seq"]) == (expected[0].seq, expected[-1].seq)
    assert manifest["seals"], "the seals covering the rows are listed"

    report = verify_export.verify(path, manifest_path, services.public_key_b64())
    assert report.ok, report.problems
    assert any("blocks recomputed" in note for note in report.notes)
    # every export is an event
    event = LogEntry.objects.filter(event_type="audit.exported").order_by("-seq").first()
    assert json.loads(event.payload)["file_sha256"] == manifest["file_sha256"]


def test_standalone_script_runs_without_django(tmp_path, logged):
    path, manifest_path, _ = _export(tmp_path, "csv")
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": ""}
    ok = subprocess.run(
        [
            sys.executable,
            "-I",
            str(STANDALONE),
            str(path),
            str(manifest_path),
            "--public-key",
            services.public_key_b64(),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert ok.stdout.strip().endswith("OK")
    assert "django" not in STANDALONE.read_text().lower().replace("no django", "")

    # one changed byte in a row: the file hash and that row's record hash no longer match
    text = path.read_text(encoding="utf-8").replace("gan v1", "gan v2", 1)
    path.write_text(text, encoding="utf-8")
    bad = subprocess.run(
        [
            sys.executable,
            "-I",
            str(STANDALONE),
            str(path),
            str(manifest_path),
            "--public-key",
            services.public_key_b64(),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    assert bad.returncode == 1
    assert "file SHA-256" in bad.stdout
    assert "do not match its record hash" in bad.stdout


def test_forged_manifest_and_other_key_are_refused(tmp_path, logged):
    path, manifest_path, manifest = _export(tmp_path, "jsonl")
    manifest["row_count"] -= 1
    manifest_path.write_text(json.dumps(manifest))
    report = verify_export.verify(path, manifest_path, services.public_key_b64())
    assert any("signature does not verify" in p for p in report.problems)
    other = integrity.public_key_raw(integrity.private_key_from_seed("a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U="))
    import base64

    report = verify_export.verify(path, manifest_path, base64.b64encode(other).decode())
    assert any("different public key" in p for p in report.problems)


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "xlsx"])
def test_pseudonymised_export_has_no_usernames_addresses_or_content(tmp_path, logged, fmt):
    path, manifest_path, manifest = _export(tmp_path, fmt, pseudonymise=True)
    raw = path.read_bytes()
    if fmt == "xlsx":
        import zipfile

        with zipfile.ZipFile(path) as z:
            raw = b"".join(z.read(n) for n in z.namelist())
    for secret in (b"alice", b"bob", b"198.51.100.7", b"Mozilla", b"prompt 1"):
        assert secret not in raw, secret
    rows = list(verify_export.READERS[fmt](path))
    actors = {r["actor"] for r in rows if r["event_type"].startswith("generation.")}
    assert len(actors) == 2 and all(a.startswith("p_") for a in actors)  # stable pseudonyms, one per person
    assert verify_export.verify(path, manifest_path, services.public_key_b64()).ok


def test_content_needs_the_explicit_permission(tmp_path, logged, user_with_role):
    auditor = user_with_role(Role.AUDITOR)
    with pytest.raises(PermissionDenied):
        export_create(user=auditor, fmt="csv", filters=LogFilters(), include_content=True)
    from django.contrib.auth.models import Permission

    auditor.user_permissions.add(Permission.objects.get(codename="read_content"))
    auditor = type(auditor).objects.get(pk=auditor.pk)
    path, manifest_path, _ = _export(tmp_path, "csv", user=auditor, include_content=True, seq_from=str(logged))
    rows = list(verify_export.READERS["csv"](path))
    assert any(r["input_content"].startswith("prompt 0 from bob") for r in rows)
    assert verify_export.verify(path, manifest_path, services.public_key_b64()).ok


def test_filters_select_the_rows(tmp_path, logged):
    path, _, manifest = _export(tmp_path, "csv", actor="alice", risk_code="A.1.2", seq_from=str(logged))
    rows = list(verify_export.READERS["csv"](path))
    assert rows and all(r["actor_username"] == "alice" and "A.1.2" in r["risk_codes"] for r in rows)
    assert manifest["filters"] == {"actor": "alice", "risk_code": "A.1.2", "seq_from": str(logged)}
    assert _export(tmp_path, "csv", event_type="generation.*", decision="refused")[2]["row_count"] >= 3
    with pytest.raises(FilterError, match="time_from"):
        LogFilters.from_mapping({"time_from": "yesterday"})
    with pytest.raises(FilterError, match="nope"):
        LogFilters.from_mapping({"event_type": "nope.*"})


def test_streamed_export_stores_its_manifest_and_is_an_event(logged):
    export = export_create(user=None, fmt="csv", filters=LogFilters(seq_from=str(logged)), pseudonymise=False)
    body = b"".join(export_stream(export=export))
    export.refresh_from_db()
    assert export.status == Export.Status.DONE
    assert export.manifest["row_count"] == len(list(csv.reader(io.StringIO(body.decode())))) - 1
    import hashlib

    assert export.manifest["file_sha256"] == hashlib.sha256(body).hexdigest()


def test_interrupted_stream_is_recorded_as_aborted(logged):
    export = export_create(user=None, fmt="jsonl", filters=LogFilters(), pseudonymise=True)
    stream = export_stream(export=export)
    next(stream)
    stream.close()
    export.refresh_from_db()
    assert export.status == Export.Status.FAILED
    event = LogEntry.objects.filter(event_type="audit.exported").order_by("-seq").first()
    assert json.loads(event.payload)["status"] == "aborted"


def test_commands_export_and_verify(tmp_path, logged, capsys):
    out = tmp_path / "cli.jsonl"
    call_command("audit_export", str(out), "--full", "--seq-from", str(logged))
    manifest = Path(str(out) + ".manifest.json")
    call_command("audit_verify_export", str(out), str(manifest))
    assert capsys.readouterr().out.strip().endswith("OK")
    with pytest.raises(CommandError, match="--as-user"):
        call_command("audit_export", str(tmp_path / "x.csv"), "--content")
    with pytest.raises(CommandError, match="soon"):
        call_command("audit_export", str(tmp_path / "x.csv"), "--time-from", "soon")  # named in the message


def test_verify_export_command_finds_rows_that_differ_from_the_database(tmp_path, logged, raw_sql):
    out = tmp_path / "cli.csv"
    call_command("audit_export", str(out), "--full", "--seq-from", str(logged))
    raw_sql("DELETE FROM audit_logentry WHERE seq = %s", [logged + 2])
    with pytest.raises(CommandError, match=f"seq {logged + 2}: the row differs from the database"):
        call_command("audit_verify_export", str(out), str(out) + ".manifest.json")


def test_standalone_rules_agree_with_the_platform(logged):
    entry = LogEntry.objects.get(seq=logged)
    row = {name: getattr(entry, name) for name in integrity.RECORD_FIELDS}
    row["created_at"] = integrity.time_canonical(entry.created_at)
    assert verify_export._record_hash(row) == entry.record_hash
    assert verify_export.RECORD_FIELDS == integrity.RECORD_FIELDS
    assert verify_export.RECORD_PREFIX == integrity.RECORD_PREFIX
    hashes = [entry.record_hash] * 5
    assert verify_export._merkle_root(hashes) == integrity.merkle_root(hashes)


def test_xlsx_keeps_formulas_as_text_and_binary_content_as_base64(tmp_path, user_with_role):
    from django.contrib.auth.models import Permission

    reader = user_with_role(Role.AUDITOR, "reader")
    reader.user_permissions.add(Permission.objects.get(codename="read_content"))
    reader = type(reader).objects.get(pk=reader.pk)
    entry = services.generation_event(
        event_type="generation.succeeded",
        actor_username='=HYPERLINK("http://example.invalid")',
        output_content=b"\x89PNG\r\n\x1a\n\x00binary",
        output_media_type="image/png",
        payload={"job_id": "1"},
    )
    path, manifest_path, _ = _export(
        tmp_path, "xlsx", user=reader, include_content=True, seq_from=str(entry.seq), seq_to=str(entry.seq)
    )
    (row,) = list(verify_export.READERS["xlsx"](path))
    assert row["actor_username"].startswith("=HYPERLINK")
    assert row["output_content"].startswith("base64:")
    import zipfile

    with zipfile.ZipFile(path) as z:
        assert b"<f>" not in z.read("xl/worksheets/sheet1.xml")  # no formula cell
    assert verify_export.verify(path, manifest_path, services.public_key_b64()).ok


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
@pytest.mark.parametrize("pseudonymise", [True, False])
def test_file_export_and_streamed_export_give_the_same_rows(tmp_path, logged, pseudonymise, fmt):
    # On PostgreSQL the file is written by COPY (pseudonyms computed in SQL), the stream by Python.
    path, manifest_path, manifest = _export(tmp_path, fmt, pseudonymise=pseudonymise, seq_from=str(logged))
    export = export_create(user=None, fmt=fmt, filters=LogFilters(seq_from=str(logged)), pseudonymise=pseudonymise)
    streamed = tmp_path / f"streamed.{fmt}"
    streamed.write_bytes(b"".join(export_stream(export=export)))
    from_file = list(verify_export.READERS[fmt](path))
    from_stream = list(verify_export.READERS[fmt](streamed))[: len(from_file)]
    assert len(from_file) == manifest["row_count"] and len(from_stream) == len(from_file)
    for a, b in zip(from_file, from_stream, strict=True):
        assert json.loads(a.pop("payload")) == json.loads(b.pop("payload"))
        assert a == b
    assert verify_export.verify(path, manifest_path, services.public_key_b64()).ok
    if pseudonymise:
        assert b"alice" not in path.read_bytes()


def test_xlsx_escape_round_trips_through_the_verifier():
    import random

    from audit.exports import xlsx_escape

    rng = random.Random(7)
    alphabet = ["_", "x", "X", "0", "4", "1", "F", "5", "a", "\x01", "\x1f", "中"]
    samples = ["_x0041_", "_x005F_x0041_", "a\x01b", "_x1F5a\x01"]
    samples += ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 16))) for _ in range(5000)]
    for text in samples:
        escaped = xlsx_escape(text)
        assert not any(ord(c) < 0x20 and c not in "\t\n\r" for c in escaped)
        assert verify_export._xlsx_text(escaped) == text

"""Audit exports with values a spreadsheet would run: quoted in CSV and XLSX, read back exactly by both verifiers,
and a cell changed afterwards is caught. The standalone verifier takes the key file /audit/public-key serves and
answers bad input with a sentence, never a traceback."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from audit import integrity, services
from audit.exports import export_create, export_stream, export_write_file
from audit.models import LogEntry
from audit.selectors import LogFilters
from audit.standalone import verify_export

from ..spreadsheet_payloads import FORMULA_PAYLOADS, assert_csv_safe, assert_xlsx_safe, csv_cells

pytestmark = pytest.mark.django_db

STANDALONE = Path(__file__).resolve().parents[2] / "audit" / "standalone" / "verify_export.py"


@pytest.fixture
def formulas():
    """One sealed record per payload, the payload in every free text column and as content."""
    start = services.auth_event(event_type="auth.logout", actor_username="system:test").seq + 1
    for i, payload in enumerate(FORMULA_PAYLOADS):
        services.generation_event(
            event_type="generation.requested",
            actor_username=payload,
            user_agent=payload,
            subject=("generation.job", payload, payload),
            filing_number=payload,
            model_record=payload,
            produce_id=payload,
            decision="allowed",
            input_content=payload,
            payload={"job_id": str(i)},
        )
    services.seals_make(block_size=2)
    return start


@pytest.fixture
def content_reader(user_with_role):
    from django.contrib.auth.models import Permission

    reader = user_with_role(None, "reader")
    reader.user_permissions.add(Permission.objects.get(codename="read_content"))
    return type(reader).objects.get(pk=reader.pk)


def _export(tmp_path, fmt, *, start, user=None, pseudonymise=False, include_content=False):
    export = export_create(
        user=user,
        fmt=fmt,
        filters=LogFilters(seq_from=str(start)),
        pseudonymise=pseudonymise,
        include_content=include_content,
    )
    path = tmp_path / f"out.{fmt}"
    manifest = export_write_file(export=export, path=path)
    manifest_path = tmp_path / f"out.{fmt}.manifest.json"
    manifest_path.write_text(json.dumps(manifest))
    return path, manifest_path, manifest


def _rewrite(path: Path, fmt: str, old: str, new: str) -> None:
    """Change the first ``old`` in the file's text (in an XLSX: in its sheet) to ``new``."""
    if fmt == "csv":
        text = path.read_bytes().decode("utf-8")  # no newline translation: a lone "\r" is data here
        assert old in text
        path.write_bytes(text.replace(old, new, 1).encode("utf-8"))
        return
    with zipfile.ZipFile(path) as archive:
        parts = {name: archive.read(name) for name in archive.namelist()}
    sheet = "xl/worksheets/sheet1.xml"
    assert old.encode() in parts[sheet]
    parts[sheet] = parts[sheet].replace(old.encode(), new.encode(), 1)
    with zipfile.ZipFile(path, "w") as archive:
        for name, body in parts.items():
            archive.writestr(name, body)


def _standalone(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-I", str(STANDALONE), *args],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": ""},
        cwd=cwd,
    )


@pytest.mark.parametrize("pseudonymise", [False, True])
@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_formula_cells_are_quoted_and_both_verifiers_read_the_exact_values(
    tmp_path, formulas, content_reader, fmt, pseudonymise
):
    path, manifest_path, manifest = _export(
        tmp_path,
        fmt,
        start=formulas,
        user=content_reader,
        pseudonymise=pseudonymise,
        include_content=not pseudonymise,
    )
    assert manifest["formula_safe_cells"] is True
    for payload in FORMULA_PAYLOADS:
        if fmt == "csv":
            assert_csv_safe(csv_cells(path.read_bytes().decode("utf-8")), payload)
        else:
            assert_xlsx_safe(path.read_bytes(), payload)

    # Read back, the values are those stored (the record hashes are over them).
    rows = list(verify_export.READERS[fmt](path))
    entries = list(LogEntry.objects.filter(seq__gte=formulas, event_type="generation.requested").order_by("seq"))
    assert len(rows) == len(entries)
    for row, entry in zip(rows, entries, strict=True):
        for name in ("subject_id", "filing_number", "model_record", "produce_id"):
            assert row[name] == getattr(entry, name), name
        if not pseudonymise:
            assert row["actor_username"] == entry.actor_username
            assert row["record_hash"] == entry.record_hash
            assert row["input_content"] == entry.subject_repr  # the same payload
    report = verify_export.verify(path, manifest_path, services.public_key_b64())
    assert report.ok, report.problems
    if not pseudonymise:
        assert any("blocks recomputed" in n and " 0 blocks" not in n for n in report.notes), report.notes
    call_command("audit_verify_export", str(path), str(manifest_path))  # the platform's own check, raises if bad

    # A cell changed to a live formula: the file hash no longer matches, and the cell is named.
    _rewrite(path, fmt, "'+1", "+1")
    report = verify_export.verify(path, manifest_path, services.public_key_b64())
    assert any("file SHA-256" in p for p in report.problems)
    assert any("is not as the export writes it" in p for p in report.problems), report.problems
    with pytest.raises(CommandError, match="FAILED"):
        call_command("audit_verify_export", str(path), str(manifest_path))


def test_a_changed_value_behind_its_quote_fails_its_record_hash(tmp_path, formulas):
    path, manifest_path, _ = _export(tmp_path, "csv", start=formulas)
    _rewrite(path, "csv", "'@SUM(A1)", "'@SUM(A9)")
    report = verify_export.verify(path, manifest_path, services.public_key_b64())
    assert any("do not match its record hash" in p for p in report.problems), report.problems


@pytest.mark.parametrize("pseudonymise", [False, True])
def test_database_and_python_writers_quote_the_same_cells(tmp_path, formulas, pseudonymise):
    # On PostgreSQL the file is written by COPY, with the rule restated in SQL; the stream by Python.
    path, _, _ = _export(tmp_path, "csv", start=formulas, pseudonymise=pseudonymise)
    export = export_create(user=None, fmt="csv", filters=LogFilters(seq_from=str(formulas)), pseudonymise=pseudonymise)
    streamed = b"".join(export_stream(export=export)).decode()
    from_file = csv_cells(path.read_bytes().decode("utf-8"))
    from_stream = csv_cells(streamed)[: len(from_file)]
    assert from_file[0] == from_stream[0]
    at = from_file[0].index("payload")
    for a, b in zip(from_file[1:], from_stream[1:], strict=True):
        assert json.loads(a.pop(at)) == json.loads(b.pop(at))  # PostgreSQL prints a pseudonymised payload its way
        assert a == b
    for payload in FORMULA_PAYLOADS:
        assert_csv_safe(from_file, payload)


def test_jsonl_stays_raw(tmp_path, formulas):
    path, manifest_path, manifest = _export(tmp_path, "jsonl", start=formulas)
    assert manifest["formula_safe_cells"] is False
    rows = [json.loads(line) for line in path.read_bytes().decode("utf-8").split("\n") if line]
    assert {row["filing_number"] for row in rows} == set(FORMULA_PAYLOADS)
    assert verify_export.verify(path, manifest_path, services.public_key_b64()).ok


def test_an_export_from_before_the_quoting_is_read_as_it_is(tmp_path, formulas):
    """A manifest without ``formula_safe_cells`` (older exports): no quote is taken off."""
    path, _, _ = _export(tmp_path, "csv", start=formulas)
    rows = list(verify_export.READERS["csv"](path, unquote=False))
    assert {row["filing_number"] for row in rows} == {"'" + p for p in FORMULA_PAYLOADS}


#
# The public key file
#


def test_standalone_verifier_takes_the_public_key_file_as_the_view_serves_it(client, tmp_path, formulas):
    path, manifest_path, _ = _export(tmp_path, "csv", start=formulas)
    response = client.get("/audit/public-key")
    assert response.status_code == 200
    key_file = tmp_path / "public-key.json"
    key_file.write_bytes(response.content)

    ran = _standalone(str(path), str(manifest_path), "--public-key", str(key_file), cwd=tmp_path)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert ran.stdout.strip().endswith("OK")
    # What it took before still works: the base64 text, and a file holding it.
    assert verify_export.verify(path, manifest_path, services.public_key_b64()).ok
    (tmp_path / "key.txt").write_text(services.public_key_b64() + "\n")
    assert verify_export.verify(path, manifest_path, str(tmp_path / "key.txt")).ok

    # A manifest signed with a key that is now among the previous ones is checked with that one.
    other = integrity.public_key_raw(integrity.private_key_from_seed(base64.b64encode(b"k" * 32).decode()))
    served = json.loads(response.content)
    rotated = {
        **served,
        "key_id": integrity.key_id(other),
        "public_key": base64.b64encode(other).decode(),
        "previous_keys": [{"key_id": served["key_id"], "public_key": served["public_key"]}],
    }
    key_file.write_text(json.dumps(rotated))
    assert verify_export.verify(path, manifest_path, str(key_file)).ok
    # And one whose key the file does not hold is refused.
    key_file.write_text(json.dumps({**rotated, "previous_keys": []}))
    report = verify_export.verify(path, manifest_path, str(key_file))
    assert any("different public key" in p for p in report.problems)


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("key-garbage-file", "public key file is neither base64"),
        ("key-bad-json", "public key file is not valid JSON"),
        ("key-json-without-key", 'has no "public_key" field'),
        ("key-not-base64", "public key given is not base64"),
        ("key-short", "not a 32-byte Ed25519 key"),
        ("manifest-garbage", "manifest is not a JSON file"),
        ("manifest-list", "not an export manifest"),
        ("manifest-missing", "manifest cannot be read"),
        ("manifest-bad-seals", "missing or malformed field"),
        ("export-missing", "export file cannot be read"),
        ("export-garbage-xlsx", "cannot be read as xlsx"),
        ("export-empty-csv", "the file has 0 rows"),
    ],
)
def test_standalone_verifier_answers_bad_input_with_a_sentence(tmp_path, formulas, case, expected):
    path, manifest_path, manifest = _export(tmp_path, "csv", start=formulas)
    key = services.public_key_b64()
    export_arg, manifest_arg = str(path), str(manifest_path)
    garbage = tmp_path / "garbage"
    garbage.write_bytes(b"\xff\xfe\x00garbage\x89PNG")
    if case == "key-garbage-file":
        key = str(garbage)
    elif case == "key-bad-json":
        (tmp_path / "k.json").write_text('{"public_key": ')
        key = str(tmp_path / "k.json")
    elif case == "key-json-without-key":
        (tmp_path / "k.json").write_text('{"algorithm": "Ed25519"}')
        key = str(tmp_path / "k.json")
    elif case == "key-not-base64":
        key = "not base64 at all!"
    elif case == "key-short":
        key = base64.b64encode(b"short").decode()
    elif case == "manifest-garbage":
        manifest_arg = str(garbage)
    elif case == "manifest-list":
        manifest_path.write_text("[1, 2]")
    elif case == "manifest-missing":
        manifest_arg = str(tmp_path / "nowhere.json")
    elif case == "manifest-bad-seals":
        manifest_path.write_text(json.dumps({**manifest, "seals": [{"number": 1}]}))
    elif case == "export-missing":
        export_arg = str(tmp_path / "nowhere.csv")
    elif case == "export-garbage-xlsx":
        manifest_path.write_text(json.dumps({**manifest, "format": "xlsx"}))
        export_arg = str(garbage)
    elif case == "export-empty-csv":
        path.write_bytes(b"")

    ran = _standalone(export_arg, manifest_arg, "--public-key", key, cwd=tmp_path)

    assert ran.returncode == 1, ran.stdout + ran.stderr
    assert "Traceback" not in ran.stdout + ran.stderr
    bad = [line for line in ran.stdout.splitlines() if line.startswith("BAD: ")]
    assert any(expected in line for line in bad), ran.stdout
    assert ran.stdout.strip().endswith("FAILED")


def test_standalone_verifier_shows_no_traceback_even_on_an_unforeseen_error(tmp_path, monkeypatch, capsys):
    def broken(*args, **kwargs):
        raise RecursionError("deep")

    monkeypatch.setattr(verify_export, "verify", broken)
    assert verify_export.main([str(tmp_path / "a"), str(tmp_path / "b")]) == 1
    out = capsys.readouterr().out
    assert "BAD: the check could not be completed" in out and out.strip().endswith("FAILED")

#!/usr/bin/env python3
"""Check an audit log export against its manifest, outside the platform.

Needs only Python 3.11+ and the ``cryptography`` package (``pip install cryptography``)::

    python verify_export.py EXPORT_FILE MANIFEST.json [--public-key KEY]

KEY is the platform's audit public key: the JSON file downloaded from ``/audit/public-key`` as it is
served (the key whose id the manifest names is taken from it, earlier keys included), or the base64 of
the 32 raw Ed25519 bytes, or a file holding that base64. Without it the key inside the manifest is
used and a warning says so: compare its key id with the published one.

CSV and XLSX exports are formula-safe: a text cell that a spreadsheet would run as a formula (it
starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return), or that starts with a single
quote, was written with one more leading single quote. When the manifest says so
(``formula_safe_cells``), that quote is taken off before the record hashes are recomputed.

What is checked:

1. the manifest's signature;
2. the file's SHA-256 and size against the manifest;
3. rows: count, first and last sequence number, sequence numbers increasing;
4. full (not pseudonymised) exports: every row's record hash recomputed from its columns, and
   content columns against their SHA-256 digests;
5. seals listed in the manifest: each one's hash and signature, and the chain between them;
6. every block a seal covers whose rows are all in the file: its Merkle root recomputed.

Exit status 0 when everything holds, 1 otherwise (a file that cannot be read included); one line per
finding.
"""

# ruff: noqa: T201
# A command-line tool: its output is printed. The XML parsed comes from an XLSX file; ElementTree
# never fetches external entities and expat (>= 2.4.1) limits entity expansion.
from __future__ import annotations

import argparse
import base64
import binascii
import csv
import hashlib
import json
import re
import sys
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

# These restate audit/integrity.py; a test checks that both agree.
RECORD_PREFIX = b"genai-platform audit record v1\n"
SEAL_PREFIX = "genai-platform audit seal v1"
MANIFEST_PREFIX = b"genai-platform audit export manifest v1\n"
RECORD_FIELDS = (
    "created_at",
    "actor_id",
    "actor_username",
    "source_ip",
    "source_port",
    "user_agent",
    "event_type",
    "subject_kind",
    "subject_id",
    "subject_repr",
    "filing_number",
    "model_record",
    "checkpoint_sha256",
    "keyword_library_version",
    "decision",
    "risk_codes",
    "produce_id",
    "input_sha256",
    "output_sha256",
    "payload",
)
INTEGER_COLUMNS = {"seq", "source_port"}
# These restate genai_platform/spreadsheets.py (cell_unquote); a test checks that both agree.
QUOTE = "'"
QUOTED_FIRST = frozenset(("=", "+", "-", "@", "\t", "\r", QUOTE))
_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode

csv.field_size_limit(1 << 30)


class Report:
    def __init__(self) -> None:
        self.problems: list[str] = []
        self.notes: list[str] = []

    @property
    def ok(self) -> bool:
        return not self.problems

    def bad(self, text: str) -> None:
        self.problems.append(text)

    def note(self, text: str) -> None:
        self.notes.append(text)


def _signature_valid(public_raw: bytes, message: bytes, signature_b64: str) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(public_raw).verify(base64.b64decode(signature_b64), message)
    except (InvalidSignature, ValueError, binascii.Error):
        return False
    return True


def _record_hash(row: dict[str, Any]) -> str:
    values = [row[name] for name in RECORD_FIELDS]
    return hashlib.sha256(RECORD_PREFIX + _dumps(values).encode()).hexdigest()


def _merkle_root(hashes: list[str]) -> str:
    level = [hashlib.sha256(b"\x00" + bytes.fromhex(h)).digest() for h in hashes]
    while len(level) > 1:
        nxt = [hashlib.sha256(b"\x01" + level[i] + level[i + 1]).digest() for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0].hex()


def _seal_message(seal: dict[str, Any]) -> bytes:
    fields = [
        SEAL_PREFIX,
        seal["number"],
        seal["first_seq"],
        seal["last_seq"],
        seal["record_count"],
        seal["merkle_root"],
        seal["leaves_sha256"],
        seal["prev_seal_hash"],
        seal["sealed_at"],
        seal["key_id"],
    ]
    return _dumps(fields).encode()


def _manifest_message(manifest: dict[str, Any]) -> bytes:
    body = {k: v for k, v in manifest.items() if k != "signature"}
    return MANIFEST_PREFIX + json.dumps(body, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()


def cell_unquote(value: str) -> str:
    """Take off the quote the export put before a text a spreadsheet would run as a formula."""
    if len(value) >= 2 and value[0] == QUOTE and value[1] in QUOTED_FIRST:
        return value[1:]
    return value


# Key of a row read with ``unquote``: the columns whose cell the export cannot have written as it is
# (a spreadsheet would run it, or its leading quote is not one the export adds): changed afterwards.
UNSAFE_CELLS = "_unsafe_cells"


def _unquoted(columns: list[str], values: list[Any]) -> tuple[list[Any], list[str]]:
    out: list[Any] = []
    unsafe: list[str] = []
    for name, value in zip(columns, values, strict=False):
        if isinstance(value, str) and value[:1] in QUOTED_FIRST:
            unquoted = cell_unquote(value)
            if unquoted is value:  # no quote of the export's to take off
                unsafe.append(name)
            value = unquoted
        out.append(value)
    return out + list(values[len(out) :]), unsafe


def _typed_unquoted(columns: list[str], values: list[Any], unquote: bool) -> dict[str, Any]:
    if not unquote:
        return _typed(columns, values)
    values, unsafe = _unquoted(columns, values)
    row = _typed(columns, values)
    if unsafe:
        row[UNSAFE_CELLS] = unsafe
    return row


class InputError(Exception):
    """An argument or file that cannot be used; its text is a sentence for the person running the check."""


# ------------------------------------------------------------------------------
# Reading the three formats, one row at a time
# ------------------------------------------------------------------------------
def _typed(columns: list[str], values: list[Any]) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for name, value in zip(columns, values, strict=False):
        if name in INTEGER_COLUMNS:
            row[name] = int(value) if value not in (None, "") else None
        else:
            row[name] = "" if value is None else str(value)
    return row


def _rows_csv(path: Path, *, unquote: bool = True) -> Iterator[dict[str, Any]]:
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        columns = next(reader, None)
        if columns is None:
            return
        for values in reader:
            yield _typed_unquoted(columns, values, unquote)


def _rows_jsonl(path: Path, *, unquote: bool = False) -> Iterator[dict[str, Any]]:
    # JSON Lines is no spreadsheet: its values are written as they are, never quoted.
    with path.open(encoding="utf-8") as f:
        for line in f:
            if line.strip():
                data = json.loads(line)
                if not isinstance(data, dict):
                    raise ValueError("a line is not a JSON object")
                yield _typed(list(data), list(data.values()))


_NS = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_XLSX_ESCAPED = re.compile(r"_x([0-9A-Fa-f]{4})_")


def _xlsx_text(text: str) -> str:
    """Undo the spreadsheet escape ``_xHHHH_`` (control characters, and a literal ``_x`` as ``_x005F_``)."""
    return _XLSX_ESCAPED.sub(lambda m: chr(int(m.group(1), 16)), text)


def _column_index(ref: str) -> int:
    letters = "".join(ch for ch in ref if ch.isalpha())
    index = 0
    for ch in letters:
        index = index * 26 + (ord(ch.upper()) - 64)
    return index - 1


def _rows_xlsx(path: Path, *, unquote: bool = True) -> Iterator[dict[str, Any]]:
    # The escape was applied after the quote: it is undone first, the quote by _typed_unquoted.
    text = _xlsx_text

    with zipfile.ZipFile(path) as archive:
        shared: list[str] = []
        if "xl/sharedStrings.xml" in archive.namelist():
            with archive.open("xl/sharedStrings.xml") as f:
                for _event, el in ET.iterparse(f):  # noqa: S314
                    if el.tag == _NS + "si":
                        shared.append("".join(t.text or "" for t in el.iter(_NS + "t")))
                        el.clear()
        sheets = sorted(n for n in archive.namelist() if n.startswith("xl/worksheets/sheet"))
        if not sheets:
            raise ValueError("the workbook has no worksheet")
        columns: list[str] | None = None
        with archive.open(sheets[0]) as f:
            for _event, el in ET.iterparse(f):  # noqa: S314
                if el.tag != _NS + "row":
                    continue
                values: dict[int, Any] = {}
                for cell in el.iter(_NS + "c"):
                    kind = cell.get("t")
                    index = _column_index(cell.get("r", ""))
                    if kind == "inlineStr":
                        values[index] = text("".join(t.text or "" for t in cell.iter(_NS + "t")))
                    else:
                        v = cell.find(_NS + "v")
                        if v is None:
                            continue
                        if kind == "s":
                            values[index] = text(shared[int(v.text or 0)])
                        elif kind in ("str", "b", "e"):
                            values[index] = v.text or ""
                        else:
                            number = float(v.text or 0)
                            values[index] = int(number) if number.is_integer() else number
                el.clear()
                width = max(values) + 1 if values else 0
                ordered = [values.get(i) for i in range(width)]
                if columns is None:
                    columns = [str(c) for c in ordered]
                    continue
                ordered += [None] * (len(columns) - len(ordered))
                yield _typed_unquoted(columns, ordered, unquote)


READERS = {"csv": _rows_csv, "jsonl": _rows_jsonl, "xlsx": _rows_xlsx}


def _content_digest(text: str) -> str:
    raw = base64.b64decode(text[len("base64:") :]) if text.startswith("base64:") else text.encode("utf-8")
    return hashlib.sha256(raw).hexdigest()


# ------------------------------------------------------------------------------
# Verification
# ------------------------------------------------------------------------------
def _check_seals(manifest: dict[str, Any], public_raw: bytes, report: Report) -> list[dict[str, Any]]:
    seals = manifest.get("seals") or []
    key_id = hashlib.sha256(public_raw).hexdigest()[:16]
    prev: dict[str, Any] | None = None
    for seal in seals:
        message = _seal_message(seal)
        if hashlib.sha256(message).hexdigest() != seal["seal_hash"]:
            report.bad(f"seal {seal['number']}: its hash does not match its fields")
        if seal["key_id"] != key_id or not _signature_valid(public_raw, message, seal["signature"]):
            report.bad(f"seal {seal['number']}: the signature does not verify")
        if prev is not None:
            if seal["number"] != prev["number"] + 1 or seal["prev_seal_hash"] != prev["seal_hash"]:
                report.bad(f"seal {seal['number']}: not chained to seal {prev['number']}")
            if seal["first_seq"] != prev["last_seq"] + 1:
                report.bad(f"seal {seal['number']}: does not continue where seal {prev['number']} ended")
        prev = seal
    return list(seals)


def _key_raw(text: Any, where: str) -> bytes:
    """32 raw key bytes from their base64 text."""
    if not isinstance(text, str):
        raise InputError(f"{where} holds no base64 text")
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise InputError(f"{where} is not base64 text") from None
    if len(raw) != 32:
        raise InputError(f"{where} is not a 32-byte Ed25519 key")
    return raw


def _key_id(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()[:16]


def _keys_from_json(text: str) -> list[bytes]:
    """The keys of the JSON that /audit/public-key serves: the current one first, then the earlier ones."""
    try:
        data = json.loads(text)
    except ValueError:
        raise InputError("the public key file is not valid JSON") from None
    if not isinstance(data, dict) or "public_key" not in data:
        raise InputError('the public key file has no "public_key" field (is it the file from /audit/public-key?)')
    keys = [_key_raw(data["public_key"], 'the public key file\'s "public_key"')]
    previous = data.get("previous_keys") or []
    if not isinstance(previous, list):
        raise InputError('the public key file\'s "previous_keys" is not a list')
    for entry in previous:
        if not isinstance(entry, dict):
            raise InputError('an entry of the public key file\'s "previous_keys" is not an object')
        keys.append(_key_raw(entry.get("public_key"), 'a key in the public key file\'s "previous_keys"'))
    return keys


def public_keys_read(public_key: str) -> list[bytes]:
    """The keys given as ``--public-key``: base64 text, a file holding it, or the JSON of /audit/public-key."""
    text = public_key
    path = Path(public_key)
    try:
        is_file = path.is_file()
    except (OSError, ValueError):  # a long text or one with a NUL is no file name
        is_file = False
    if is_file:
        try:
            text = path.read_bytes().decode("utf-8-sig")
        except OSError as exc:
            raise InputError(f"the public key file cannot be read ({exc.strerror or exc})") from None
        except UnicodeDecodeError:
            raise InputError("the public key file is neither base64 text nor the JSON of /audit/public-key") from None
    if text.lstrip().startswith("{"):
        return _keys_from_json(text)
    return [_key_raw(text, "the public key file" if is_file else "the public key given")]


def _manifest_read(manifest_path: Path) -> dict[str, Any]:
    try:
        manifest = json.loads(manifest_path.read_bytes().decode("utf-8"))
    except OSError as exc:
        raise InputError(f"the manifest cannot be read ({exc.strerror or exc})") from None
    except ValueError:
        raise InputError("the manifest is not a JSON file") from None
    if not isinstance(manifest, dict) or "signature" not in manifest:
        raise InputError("the manifest is not an export manifest (no signature)")
    return manifest


def verify(export_path: Path, manifest_path: Path, public_key: str | None = None) -> Report:
    """Check ``export_path`` against its manifest; a file or key that cannot be used is a finding too."""
    report = Report()
    try:
        _verify(report, export_path, manifest_path, public_key)
    except InputError as exc:
        report.bad(str(exc))
    except (KeyError, TypeError, AttributeError, IndexError, ValueError) as exc:
        # A manifest whose fields have the wrong shape (it was changed by hand, or is no manifest).
        report.bad(f"the manifest has a missing or malformed field ({type(exc).__name__}: {exc})")
    return report


def _verify(report: Report, export_path: Path, manifest_path: Path, public_key: str | None) -> None:
    manifest = _manifest_read(manifest_path)
    if public_key:
        keys = public_keys_read(public_key)
        by_id = {_key_id(raw): raw for raw in keys}
        public_raw = by_id.get(str(manifest.get("key_id", "")), keys[0])
        if manifest.get("public_key") and _key_raw(manifest["public_key"], "the manifest's public key") not in keys:
            report.bad("the manifest names a different public key than the one given")
    else:
        public_raw = _key_raw(manifest.get("public_key", ""), "the manifest's public key")
        report.note(
            f"public key taken from the manifest (key id {manifest.get('key_id')}); "
            "compare it with the key the platform publishes at /audit/public-key"
        )
    if not _signature_valid(public_raw, _manifest_message(manifest), manifest.get("signature", "")):
        report.bad("the manifest's signature does not verify: it was changed or not made with this key")

    sha = hashlib.sha256()
    size = 0
    try:
        with export_path.open("rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                sha.update(chunk)
                size += len(chunk)
    except OSError as exc:
        raise InputError(f"the export file cannot be read ({exc.strerror or exc})") from None
    if sha.hexdigest() != manifest.get("file_sha256"):
        report.bad(f"file SHA-256 is {sha.hexdigest()}, the manifest says {manifest.get('file_sha256')}")
    if size != manifest.get("file_size"):
        report.bad(f"file size is {size}, the manifest says {manifest.get('file_size')}")

    seals = _check_seals(manifest, public_raw, report)
    full = not manifest.get("pseudonymised")
    reader = READERS.get(manifest.get("format", ""))
    if reader is None:
        report.bad(f"unknown format {manifest.get('format')!r}")
        return
    # Exports made before cells were formula-safe say nothing: their cells are read as they are.
    unquote = manifest.get("formula_safe_cells") is True

    count = 0
    first = last = None
    seal_index = 0
    block_hashes: list[str] = []
    blocks_checked = 0
    unsealed = 0
    try:
        for row in reader(export_path, unquote=unquote):
            seq = row["seq"]
            if last is not None and seq <= last:
                report.bad(f"row {count + 1}: sequence number {seq} does not increase")
                break
            if first is None:
                first = seq
            last = seq
            count += 1
            for name in row.get(UNSAFE_CELLS, ()):
                report.bad(
                    f"seq {seq}: the {name} cell is not as the export writes it (a formula, or a quote it never adds)"
                )
            if full:
                if _record_hash(row) != row.get("record_hash"):
                    report.bad(f"seq {seq}: its columns do not match its record hash")
                for side in ("input", "output"):
                    content = row.get(f"{side}_content")
                    if content and _content_digest(content) != row.get(f"{side}_sha256"):
                        report.bad(f"seq {seq}: {side} content does not match its SHA-256")
            # Merkle roots of blocks wholly present in the file.
            while seal_index < len(seals) and seals[seal_index]["last_seq"] < seq:
                seal_index += 1
                block_hashes = []
            if seal_index >= len(seals) or seals[seal_index]["first_seq"] > seq:
                unsealed += 1
                continue
            seal = seals[seal_index]
            if full:
                block_hashes.append(row.get("record_hash", ""))
                if seq == seal["last_seq"]:
                    if len(block_hashes) == seal["record_count"]:
                        if _merkle_root(block_hashes) != seal["merkle_root"]:
                            report.bad(f"seal {seal['number']}: the rows of its block do not give its Merkle root")
                        blocks_checked += 1
                    block_hashes = []
    except (KeyError, ValueError, TypeError, IndexError, OSError, csv.Error, zipfile.BadZipFile, ET.ParseError) as exc:
        report.bad(f"the file cannot be read as {manifest.get('format')}: {exc}")
        return

    if count != manifest.get("row_count"):
        report.bad(f"the file has {count} rows, the manifest says {manifest.get('row_count')}")
    if first != manifest.get("first_seq") or last != manifest.get("last_seq"):
        report.bad(
            f"rows run from {first} to {last}, "
            f"the manifest says {manifest.get('first_seq')} to {manifest.get('last_seq')}"
        )
    report.note(f"{count} rows, seq {first}..{last}; {len(seals)} seals listed, {blocks_checked} blocks recomputed")
    if unsealed:
        report.note(f"{unsealed} rows were not sealed yet when exported")
    if not full:
        report.note("pseudonymised export: rows are vouched for by the manifest signature only")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Check an audit log export against its signed manifest.")
    parser.add_argument("export_file", type=Path)
    parser.add_argument("manifest", type=Path)
    parser.add_argument(
        "--public-key",
        help="the platform's audit public key: the JSON file from /audit/public-key, base64 text, or a file holding it",
    )
    args = parser.parse_args(argv)
    try:
        report = verify(args.export_file, args.manifest, args.public_key)
    except Exception as exc:  # noqa: BLE001 - the last resort of a command-line tool: a sentence, not a traceback
        print(f"BAD: the check could not be completed ({type(exc).__name__}: {exc})")
        print("FAILED")
        return 1
    for line in report.notes:
        print(f"note: {line}")
    for line in report.problems:
        print(f"BAD: {line}")
    print("OK" if report.ok else "FAILED")
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())

"""The column sets and the writers of each format (CSV, JSONL, XLSX with inline strings and formula-safe cells),
row by row, hashing what they write.

CSV and XLSX cells go through ``genai_platform.spreadsheets.cell_safe``: a text a spreadsheet would run as a
formula gets a leading single quote (a text starting with a quote gets one more). The record hashes stay those
of the stored values; the verifiers take the quote off before recomputing them. JSONL is written raw.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from django.conf import settings

from audit import integrity, services
from audit.catalogue import pi_keys
from audit.models import Content
from audit.selectors import LogFilters, entries_keyset, with_canonical_time
from genai_platform.spreadsheets import cell_safe, csv_writer, xlsx_string

FULL_COLUMNS: tuple[str, ...] = ("seq", *integrity.RECORD_FIELDS, "record_hash")


# What is read: the same, with the time as canonical text computed by the database.
_DB_COLUMNS: tuple[str, ...] = ("seq", "created_at_text", *integrity.RECORD_FIELDS[1:], "record_hash")


CONTENT_COLUMNS: tuple[str, ...] = ("input_content", "output_content")


# A pseudonymised export: the actor (id and name) and the source address become one keyed hash each (``actor``,
# ``source``); the port, the user agent and the subject's text are left out.
_PSEUDONYMISED_AS = {"actor_id": "actor", "source_ip": "source"}
_PSEUDONYMISED_OUT = frozenset(("actor_username", "source_port", "user_agent", "subject_repr"))
PSEUDONYMISED_COLUMNS: tuple[str, ...] = (
    "seq",
    *(_PSEUDONYMISED_AS.get(name, name) for name in integrity.RECORD_FIELDS if name not in _PSEUDONYMISED_OUT),
)


_INDEX = {name: i for i, name in enumerate(FULL_COLUMNS)}


EXTENSIONS = {"csv": "csv", "jsonl": "jsonl", "xlsx": "xlsx"}


CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "jsonl": "application/x-ndjson; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


PROGRESS_EVERY = 5000


def columns_for(*, pseudonymise: bool, include_content: bool) -> tuple[str, ...]:
    base = PSEUDONYMISED_COLUMNS if pseudonymise else FULL_COLUMNS
    return base + CONTENT_COLUMNS if include_content else base


class _RowMaker:
    """Turns database rows into export rows for one column set."""

    def __init__(self, *, pseudonymise: bool, include_content: bool) -> None:
        self.pseudonymise = pseudonymise
        self.include_content = include_content
        self.user_kind = settings.AUTH_USER_MODEL.lower()
        key = services.pseudonym_key()
        # The same people and addresses recur on many rows: each is hashed once per export.
        self.pseudonym = functools.lru_cache(maxsize=65536)(functools.partial(services.pseudonym, key=key))

    def _actor(self, actor_id: str, username: str) -> str:
        if username.startswith("system:") and not actor_id:
            return username  # the platform itself, not a person
        if actor_id:
            return self.pseudonym(f"user:{actor_id}")
        return self.pseudonym(f"name:{username}") if username else ""

    def rows(self, batch: list[tuple[Any, ...]]) -> Iterator[list[Any]]:
        contents: dict[str, str] = {}
        if self.include_content:
            digests = {r[_INDEX["input_sha256"]] for r in batch} | {r[_INDEX["output_sha256"]] for r in batch}
            digests.discard("")
            for content in Content.objects.filter(digest__in=digests):
                contents[content.digest] = content.as_text()
        for r in batch:
            row = self._pseudonymised(r) if self.pseudonymise else list(r)
            if self.include_content:
                row.append(contents.get(r[_INDEX["input_sha256"]], ""))
                row.append(contents.get(r[_INDEX["output_sha256"]], ""))
            yield row

    def _pseudonymised(self, r: tuple[Any, ...]) -> list[Any]:
        g = _INDEX
        subject_id = r[g["subject_id"]]
        if r[g["subject_kind"]] == self.user_kind and subject_id:
            subject_id = self.pseudonym(f"user:{subject_id}")
        payload = r[g["payload"]]
        secret = pi_keys(r[g["event_type"]])
        if secret:
            data = json.loads(payload)
            for key in secret & data.keys():
                data[key] = self.pseudonym(f"name:{data[key]}") if data[key] else data[key]
            payload = integrity.payload_canonical(data)
        return [
            r[g["seq"]],
            r[g["created_at"]],
            self._actor(r[g["actor_id"]], r[g["actor_username"]]),
            self.pseudonym(f"ip:{r[g['source_ip']]}") if r[g["source_ip"]] else "",
            r[g["event_type"]],
            r[g["subject_kind"]],
            subject_id,
            r[g["filing_number"]],
            r[g["model_record"]],
            r[g["checkpoint_sha256"]],
            r[g["keyword_library_version"]],
            r[g["decision"]],
            r[g["risk_codes"]],
            r[g["produce_id"]],
            r[g["input_sha256"]],
            r[g["output_sha256"]],
            payload,
        ]


class _HashingWriter(io.RawIOBase):
    """Writes through to ``out`` while hashing and counting the bytes."""

    def __init__(self, out: IO[bytes]) -> None:
        self.out = out
        self.sha = hashlib.sha256()
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        data = bytes(data)
        self.sha.update(data)
        self.size += len(data)
        self.out.write(data)
        return len(data)


class ExportResult:
    def __init__(self) -> None:
        self.rows = 0
        self.first_seq: int | None = None
        self.last_seq: int | None = None
        self.sha256 = ""
        self.size = 0


def _text_chunks(
    fmt: str, columns: tuple[str, ...], batches: Iterator[list[list[Any]]], result: ExportResult
) -> Iterator[bytes]:
    """CSV or JSONL bytes, one chunk per page of rows."""
    buffer = io.StringIO()
    if fmt == "csv":
        writer = csv_writer(buffer, lineterminator="\n")
        writer.writerow(columns)
    for rows in batches:
        for row in rows:
            if fmt == "csv":
                writer.writerow(row)  # None is written as an empty field
            else:
                buffer.write(json.dumps(dict(zip(columns, row, strict=True)), ensure_ascii=False))
                buffer.write("\n")
            if result.first_seq is None:
                result.first_seq = row[0]
            result.last_seq = row[0]
            result.rows += 1
        yield buffer.getvalue().encode("utf-8")
        buffer.seek(0)
        buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue().encode("utf-8")


# Control characters XML cannot hold, and text that already looks like such an escape.
_XLSX_ESCAPE = re.compile(r"_(?=x[0-9A-Fa-f]{4})|[\x00-\x08\x0b\x0c\x0e-\x1f]")


def xlsx_escape(text: str) -> str:
    """The spreadsheet format's own escape (``_xHHHH_``), which Excel and the verifier decode."""
    return _XLSX_ESCAPE.sub(lambda m: f"_x{ord(m.group(0)):04X}_", text)


def _xlsx_safe(sheet: Any, value: Any) -> Any:
    if not isinstance(value, str):
        return value
    # Quoted first, then escaped: the verifier decodes the escape, then takes the quote off.
    # A cell holds at most 32,767 characters (longer text no longer matches its record hash).
    return xlsx_string(sheet, xlsx_escape(cell_safe(value))[:32767])


def _xlsx_write(columns: tuple[str, ...], batches: Iterator[list[list[Any]]], path: Path, result: ExportResult) -> None:
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("audit")
    sheet.append(list(columns))
    for rows in batches:
        for row in rows:
            sheet.append([_xlsx_safe(sheet, v) for v in row])
            if result.first_seq is None:
                result.first_seq = row[0]
            result.last_seq = row[0]
            result.rows += 1
    workbook.save(str(path))


def _batches(
    filters: LogFilters, maker: _RowMaker, progress: Callable[[int], None] | None
) -> Iterator[list[list[Any]]]:
    done = 0
    next_report = PROGRESS_EVERY
    for batch in entries_keyset(with_canonical_time(filters.queryset()), _DB_COLUMNS, chunk=5000):
        yield list(maker.rows(batch))
        done += len(batch)
        if progress and done >= next_report:
            progress(done)
            next_report = done + PROGRESS_EVERY

"""Exports of the audit log as CSV, JSONL or XLSX, with a signed manifest.

Rows are read in windows of sequence numbers and written as they come, so memory stays flat
whatever the size. On PostgreSQL a CSV export without content is written by the database itself
(COPY, keyed hashes for pseudonyms computed in SQL) in one snapshot. XLSX is written row by
row with inline strings, so it stays flat too. The manifest beside each file names the filters,
row count, first and last sequence number, the seals covering them, the SHA-256 of the file, and
is signed with the audit key. ``audit/standalone/verify_export.py`` checks a file against its
manifest outside the platform.

Column sets
    full: ``seq``, the record columns (``audit.integrity.RECORD_FIELDS``) and ``record_hash``,
    so each row's hash can be recomputed; with content, ``input_content`` and ``output_content``.
    pseudonymised: actor and source address replaced by keyed hashes (``services.pseudonym``),
    user agent, subject text and record hash left out, personal payload keys replaced.
"""

from __future__ import annotations

import base64
import csv
import functools
import hashlib
import io
import json
import logging
import re
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import connection, transaction
from django.utils import timezone

from audit import integrity, services
from audit.catalogue import pi_keys
from audit.catalogue import pi_keys_all as catalogue_pi_keys
from audit.models import Content, Export
from audit.selectors import LogFilters, entries_keyset, seals_covering, with_canonical_time

logger = logging.getLogger(__name__)

FULL_COLUMNS: tuple[str, ...] = ("seq", *integrity.RECORD_FIELDS, "record_hash")
# What is read: the same, with the time as canonical text computed by the database.
_DB_COLUMNS: tuple[str, ...] = ("seq", "created_at_text", *integrity.RECORD_FIELDS[1:], "record_hash")
CONTENT_COLUMNS: tuple[str, ...] = ("input_content", "output_content")
PSEUDONYMISED_COLUMNS: tuple[str, ...] = (
    "seq",
    "created_at",
    "actor",
    "source",
    "event_type",
    "subject_kind",
    "subject_id",
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
        writer = csv.writer(buffer, lineterminator="\n")
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
    from openpyxl.cell import WriteOnlyCell

    # A cell holds at most 32,767 characters (longer text no longer matches its record hash).
    value = xlsx_escape(value)[:32767]
    if value.startswith("="):
        # Text, never a formula: a logged value must not run in the auditor's spreadsheet.
        cell = WriteOnlyCell(sheet, value=value)
        cell.data_type = "s"
        return cell
    return value


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


def _copy_applies(export: Export) -> bool:
    """PostgreSQL writes CSV and JSONL exports without content itself (COPY), much faster than Python."""
    return connection.vendor == "postgresql" and export.format in ("csv", "jsonl") and not export.include_content


_SQL_NAME = re.compile(r"^[a-z_.]+$")


def _pseudonym_sql(expression: str) -> str:
    """SQL for ``services.pseudonym(<expression>)``: HMAC-SHA256 written out with sha256() (PostgreSQL 11+)."""
    key = services.pseudonym_key()
    if len(key) > 64:
        key = hashlib.sha256(key).digest()
    key = key.ljust(64, b"\0")
    inner = bytes(b ^ 0x36 for b in key).hex()
    outer = bytes(b ^ 0x5C for b in key).hex()
    # Only hex digits and the given column expression go into the text.
    return (
        f"'p_' || left(encode(sha256('\\x{outer}'::bytea || sha256('\\x{inner}'::bytea || "
        f"convert_to({expression}, 'UTF8'))), 'hex'), 20)"
    )


def _pseudonymised_select() -> str:
    """The pseudonymised columns over a subquery ``t`` of the full ones, as ``_RowMaker`` makes them.

    Personal payload keys are replaced in SQL too; such payloads come out as PostgreSQL prints
    JSON (with spaces), the same data as the Python writer's.
    """
    user_kind = settings.AUTH_USER_MODEL.lower()
    assert _SQL_NAME.match(user_kind)
    payload = "t.payload"
    cases = []
    for event_type, keys in sorted(catalogue_pi_keys().items()):
        if not keys:
            continue
        assert _SQL_NAME.match(event_type) and all(_SQL_NAME.match(k) for k in keys)
        value = "t.payload::jsonb"
        for key in sorted(keys):
            hashed = _pseudonym_sql("'name:' || (" + value + " ->> '" + key + "')")
            value = (
                f"(CASE WHEN coalesce({value} ->> '{key}', '') <> '' THEN jsonb_set({value}, '{{{key}}}', "
                f"to_jsonb({hashed})) ELSE {value} END)"
            )
        cases.append(f"WHEN t.event_type = '{event_type}' THEN ({value})::text")
    if cases:
        payload = f"CASE {' '.join(cases)} ELSE t.payload END"
    by_id = _pseudonym_sql("'user:' || t.actor_id")
    by_name = _pseudonym_sql("'name:' || t.actor_username")
    by_ip = _pseudonym_sql("'ip:' || t.source_ip")
    subject = _pseudonym_sql("'user:' || t.subject_id")
    columns = [
        "t.seq",
        "t.created_at_text",
        "CASE WHEN t.actor_id = '' AND t.actor_username LIKE 'system:%' THEN t.actor_username "
        f"WHEN t.actor_id <> '' THEN {by_id} WHEN t.actor_username <> '' THEN {by_name} ELSE '' END",
        f"CASE WHEN t.source_ip <> '' THEN {by_ip} ELSE '' END",
        "t.event_type",
        "t.subject_kind",
        f"CASE WHEN t.subject_kind = '{user_kind}' AND t.subject_id <> '' THEN {subject} ELSE t.subject_id END",
        *(f"t.{name}" for name in PSEUDONYMISED_COLUMNS[7:16]),
        payload,
    ]
    return ", ".join(
        f'{expression} AS "{name}"' for expression, name in zip(columns, PSEUDONYMISED_COLUMNS, strict=True)
    )


def _full_select() -> str:
    return ", ".join(f't.{source} AS "{name}"' for source, name in zip(_DB_COLUMNS, FULL_COLUMNS, strict=True))


def _copy_export(
    filters: LogFilters, out: _HashingWriter, result: ExportResult, *, fmt: str, pseudonymise: bool
) -> None:
    """Same columns and rules as the Python writer, written by PostgreSQL.

    CSV: an empty text is written "", no value as nothing, as csv.reader reads them back. JSONL:
    one ``row_to_json`` object per line, with the keys and JSON types of the Python writer. The
    count and the sequence range come from the same snapshot as the rows.
    """
    qs = with_canonical_time(filters.queryset()).order_by("seq").values_list(*_DB_COLUMNS)
    sql, params = qs.query.sql_with_params()
    columns = PSEUDONYMISED_COLUMNS if pseudonymise else FULL_COLUMNS
    if fmt == "csv":
        header = io.StringIO()
        csv.writer(header, lineterminator="\n").writerow(columns)
        out.write(header.getvalue().encode())
    outermost = not connection.in_atomic_block
    with transaction.atomic(), connection.cursor() as cursor:
        if outermost:  # must be the transaction's first statement
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        query = cursor.mogrify(sql, params).decode()
        cursor.execute(f"SELECT count(*), min(seq), max(seq) FROM ({query}) AS rows")  # noqa: S608
        result.rows, result.first_seq, result.last_seq = cursor.fetchone()
        # Sent as it is (no parameter formatting): the inner query is already rendered.
        select = _pseudonymised_select() if pseudonymise else _full_select()
        query = f"SELECT {select} FROM ({query}) AS t ORDER BY t.seq"  # noqa: S608
        if fmt == "csv":
            cursor.cursor.copy_expert(f"COPY ({query}) TO STDOUT WITH (FORMAT csv)", out)
        else:
            # JSON text escapes every control character, so with these two as delimiter and quote
            # each object goes out exactly as PostgreSQL wrote it, one per line.
            cursor.cursor.copy_expert(
                f"COPY (SELECT row_to_json(r)::text FROM ({query}) AS r) TO STDOUT "  # noqa: S608
                "WITH (FORMAT csv, DELIMITER E'\\x01', QUOTE E'\\x02')",
                out,
            )


def manifest_build(
    *,
    export: Export,
    columns: tuple[str, ...],
    result: ExportResult,
    file_name: str,
) -> dict[str, Any]:
    seals = []
    if result.first_seq is not None and result.last_seq is not None:
        seals = [services.seal_as_dict(s) for s in seals_covering(result.first_seq, result.last_seq)]
    public = services.public_key_raw()
    manifest: dict[str, Any] = {
        "manifest_version": 1,
        "export_id": str(export.id),
        "created_at": integrity.time_canonical(timezone.now()),
        "created_by": export.created_by,
        "file_name": file_name,
        "format": export.format,
        "file_sha256": result.sha256,
        "file_size": result.size,
        "columns": list(columns),
        "filters": export.filters,
        "pseudonymised": export.pseudonymise,
        "content_included": export.include_content,
        "row_count": result.rows,
        "first_seq": result.first_seq,
        "last_seq": result.last_seq,
        "seals": seals,
        "public_key": base64.b64encode(public).decode(),
        "key_id": integrity.key_id(public),
    }
    manifest["signature"] = integrity.sign(services.signing_key(), integrity.manifest_message(manifest))
    return manifest


# ------------------------------------------------------------------------------
# Services
# ------------------------------------------------------------------------------
def export_create(
    *,
    user: Any,
    fmt: str,
    filters: LogFilters,
    pseudonymise: bool = True,
    include_content: bool = False,
) -> Export:
    """Record a requested export. Full content needs the ``audit.read_content`` permission."""
    if fmt not in EXTENSIONS:
        raise ValueError(f"format must be one of {', '.join(EXTENSIONS)}")
    if include_content and not (user is not None and user.has_perm("audit.read_content")):
        raise PermissionDenied("exporting content needs the 'Can read and export prompt and output content' permission")
    export = Export(
        id=uuid.uuid4(),
        created_by_id=str(user.pk) if user is not None else "",
        created_by=user.get_username() if user is not None else "system",
        format=fmt,
        filters=filters.as_dict(),
        pseudonymise=pseudonymise,
        include_content=include_content,
        rows_total=filters.queryset().count(),
    )
    export.save()
    return export


def _event_exported(export: Export, result: ExportResult, status: str) -> None:
    services.audit_event(
        event_type="audit.exported",
        actor_id=export.created_by_id or None,
        actor_username=export.created_by,
        subject=("audit.export", str(export.id), f"{export.format} export"),
        payload={
            "export_id": str(export.id),
            "format": export.format,
            "filters": export.filters,
            "row_count": result.rows,
            "first_seq": result.first_seq,
            "last_seq": result.last_seq,
            "file_sha256": result.sha256 or None,
            "pseudonymised": export.pseudonymise,
            "content_included": export.include_content,
            "status": status,
        },
    )


def export_file_name(export: Export) -> str:
    stamp = export.created_at.strftime("%Y%m%dT%H%M%S") if export.created_at else "export"
    return f"audit-{stamp}-{str(export.id)[:8]}.{EXTENSIONS[export.format]}"


def export_write_file(*, export: Export, path: Path, progress: Callable[[int], None] | None = None) -> dict[str, Any]:
    """Write the export to ``path`` and return its signed manifest; record the export as an event."""
    filters = LogFilters.from_mapping(export.filters)
    columns = columns_for(pseudonymise=export.pseudonymise, include_content=export.include_content)
    maker = _RowMaker(pseudonymise=export.pseudonymise, include_content=export.include_content)
    result = ExportResult()
    batches = _batches(filters, maker, progress)
    if _copy_applies(export):
        with path.open("wb") as raw:
            out = _HashingWriter(raw)
            _copy_export(filters, out, result, fmt=export.format, pseudonymise=export.pseudonymise)
        result.sha256, result.size = out.sha.hexdigest(), out.size
    elif export.format == "xlsx":
        _xlsx_write(columns, batches, path, result)
        sha = hashlib.sha256()
        with path.open("rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                sha.update(chunk)
        result.sha256, result.size = sha.hexdigest(), path.stat().st_size
    else:
        with path.open("wb") as raw:
            out = _HashingWriter(raw)
            for chunk in _text_chunks(export.format, columns, batches, result):
                out.write(chunk)
        result.sha256, result.size = out.sha.hexdigest(), out.size
    manifest = manifest_build(export=export, columns=columns, result=result, file_name=export_file_name(export))
    with transaction.atomic():
        Export.objects.filter(pk=export.pk).update(
            manifest=manifest, rows_done=result.rows, status=Export.Status.DONE, finished_at=timezone.now()
        )
        _event_exported(export, result, "done")
    return manifest


def export_stream(*, export: Export) -> Iterator[bytes]:
    """CSV or JSONL bytes for a streamed response; the manifest is stored on the export at the end.

    If the client goes away before the end, the export is recorded as aborted with the rows sent.
    """
    filters = LogFilters.from_mapping(export.filters)
    columns = columns_for(pseudonymise=export.pseudonymise, include_content=export.include_content)
    maker = _RowMaker(pseudonymise=export.pseudonymise, include_content=export.include_content)
    result = ExportResult()
    sha = hashlib.sha256()
    finished = False
    Export.objects.filter(pk=export.pk).update(status=Export.Status.RUNNING)
    try:
        for chunk in _text_chunks(export.format, columns, _batches(filters, maker, None), result):
            sha.update(chunk)
            result.size += len(chunk)
            yield chunk
        finished = True
    finally:
        result.sha256 = sha.hexdigest()
        if finished:
            manifest = manifest_build(export=export, columns=columns, result=result, file_name=export_file_name(export))
            with transaction.atomic():
                Export.objects.filter(pk=export.pk).update(
                    manifest=manifest, rows_done=result.rows, status=Export.Status.DONE, finished_at=timezone.now()
                )
                _event_exported(export, result, "done")
        else:
            with transaction.atomic():
                Export.objects.filter(pk=export.pk).update(
                    rows_done=result.rows, status=Export.Status.FAILED, error="the download was interrupted"
                )
                _event_exported(export, result, "aborted")


def export_storage_names(export: Export) -> tuple[str, str]:
    base = f"audit/exports/{export.id}"
    return f"{base}.{EXTENSIONS[export.format]}", f"{base}.manifest.json"


def export_run(*, export_id: str) -> None:
    """Background export (Celery, queue ``exports``): file and manifest go to the default storage."""
    export = Export.objects.get(pk=export_id)
    if export.status not in (Export.Status.QUEUED, Export.Status.RUNNING):
        return  # delivered twice: already finished
    Export.objects.filter(pk=export.pk).update(status=Export.Status.RUNNING, rows_done=0)

    def progress(rows: int) -> None:
        Export.objects.filter(pk=export.pk).update(rows_done=rows)

    tmp_dir = Path(settings.DATA_DIR) / "tmp"
    tmp_dir.mkdir(parents=True, exist_ok=True)
    try:
        with tempfile.TemporaryDirectory(dir=tmp_dir) as workdir:
            path = Path(workdir) / "export"
            manifest = export_write_file(
                export=export,
                path=path,
                progress=progress,
            )
            file_name, manifest_name = export_storage_names(export)
            for name in (file_name, manifest_name):
                if default_storage.exists(name):
                    default_storage.delete(name)
            with path.open("rb") as f:
                stored = default_storage.save(file_name, File(f))
            default_storage.save(manifest_name, File(io.BytesIO(json.dumps(manifest, indent=1).encode())))
            Export.objects.filter(pk=export.pk).update(file_name=stored)
    except Exception as exc:
        logger.exception("audit export %s failed", export.pk)
        with transaction.atomic():
            Export.objects.filter(pk=export.pk).update(status=Export.Status.FAILED, error=str(exc)[:2000])
            result = ExportResult()
            _event_exported(export, result, "failed")
        raise


def export_start(*, export: Export) -> None:
    """Queue a background export after the current transaction commits."""
    from kombu.exceptions import OperationalError

    from audit.tasks import export_run_task

    def send() -> None:
        try:
            export_run_task.delay(str(export.id))
        except OperationalError as exc:
            Export.objects.filter(pk=export.pk).update(
                status=Export.Status.FAILED, error=f"the task queue cannot be reached ({exc})"[:2000]
            )

    transaction.on_commit(send)

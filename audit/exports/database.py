"""PostgreSQL: a CSV export without content written by the database itself (COPY), with the keyed hashes of
pseudonyms computed in SQL, and formula-safe text cells (as ``genai_platform.spreadsheets``), in one snapshot."""

from __future__ import annotations

import hashlib
import io
import re

from django.conf import settings
from django.db import connection, transaction

from audit import services
from audit.catalogue import pi_keys_all as catalogue_pi_keys
from audit.exports.formats import (
    _DB_COLUMNS,
    FULL_COLUMNS,
    PSEUDONYMISED_COLUMNS,
    ExportResult,
    _HashingWriter,
)
from audit.models import Export
from audit.selectors import LogFilters, with_canonical_time
from genai_platform.spreadsheets import QUOTE, QUOTED_FIRST, csv_writer


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


# The columns that hold numbers, not text: written as they are.
_NUMBER_COLUMNS = frozenset(("seq", "source_port"))


def _cell_safe_select(columns: tuple[str, ...]) -> str:
    """``genai_platform.spreadsheets.cell_safe`` in SQL, over the columns of a subquery ``s`` (CSV)."""
    # Built from the kernel's list, so the two cannot drift apart. ascii() gives the first character's
    # code without making a new text per cell (left() did, at a cost the export benchmark showed).
    first = ", ".join(str(ord(c)) for c in sorted(QUOTED_FIRST))
    quote = f"chr({ord(QUOTE)})"
    parts = []
    for name in columns:
        column = f's."{name}"'
        if name in _NUMBER_COLUMNS:
            parts.append(column)
        else:
            parts.append(
                f'CASE WHEN ascii({column}) IN ({first}) THEN {quote} || {column} ELSE {column} END AS "{name}"'
            )
    return ", ".join(parts)


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
        csv_writer(header, lineterminator="\n").writerow(columns)
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
            # Text a spreadsheet would run as a formula gets a leading quote, as the Python writer does.
            # OFFSET 0 keeps the subquery from being flattened into this one, which would compute the
            # pseudonyms (SHA-256 in SQL) once per mention in the CASE rather than once.
            query = f"SELECT {_cell_safe_select(columns)} FROM ({query} OFFSET 0) AS s ORDER BY s.seq"  # noqa: S608
            cursor.cursor.copy_expert(f"COPY ({query}) TO STDOUT WITH (FORMAT csv)", out)
        else:
            # JSON text escapes every control character, so with these two as delimiter and quote
            # each object goes out exactly as PostgreSQL wrote it, one per line.
            cursor.cursor.copy_expert(
                f"COPY (SELECT row_to_json(r)::text FROM ({query}) AS r) TO STDOUT "  # noqa: S608
                "WITH (FORMAT csv, DELIMITER E'\\x01', QUOTE E'\\x02')",
                out,
            )

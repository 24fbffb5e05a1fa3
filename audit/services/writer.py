"""Appending records: ``event_record`` and the family writers, and the sequence numbers they take."""

from __future__ import annotations

import contextlib
import hashlib
import re
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.utils import timezone

from audit import integrity
from audit.catalogue import PayloadError, event_type_get, payload_validate
from audit.models import Content, Decision, LogEntry
from audit.services.keys import tag_key
from genai_platform.client_address import client_address

# Columns of ``audit_logentry`` in the order the writer inserts them.
_INSERT_COLUMNS = ("seq", *integrity.RECORD_FIELDS, "record_hash", "record_tag")


_COLUMN_LIST = ", ".join(_INSERT_COLUMNS)


# The model's fields in their declared order, for building the returned record positionally.
_ENTRY_FIELDS = [field.attname for field in LogEntry._meta.concrete_fields]


# Built once from constant column names; values always go as parameters. A number already taken
# (a row put there behind the writer's back) inserts nothing, and the writer takes the next number:
# the squatter is left for the sealer, whose tag check names it.
_INSERT_SQL = "INSERT INTO audit_logentry ({}) VALUES ({}) ON CONFLICT (seq) DO NOTHING".format(  # noqa: S608
    _COLUMN_LIST, ", ".join(["%s"] * len(_INSERT_COLUMNS))
)


# SQLite: the counter row, bumped in the writer's transaction.
_NEXT_SEQ_SQL = "UPDATE audit_sequence SET last_seq = last_seq + 1 WHERE id = 1 RETURNING last_seq"


# PostgreSQL: the transaction gets its id before it takes a number, so that a sealer which sees a
# number given out can wait for every transaction that may still hold it (``_numbers_settled``).
# The number is taken before the insert because the record's tag covers it.
_TAKE_SEQ_SQL_POSTGRESQL = "SELECT pg_current_xact_id(); SELECT nextval('audit_logentry_seq')"


# Outside a transaction: two round trips, one implicit commit. A squatter on the number makes the
# INSERT fail; the transaction is rolled back and the record written again under a new number. Both statements
# are prepared once per connection, so that the server plans them once rather than for every record; the
# number is taken in one statement, the transaction's id first (the materialised CTE is read before the number).
_TAKE_PREPARED_NAME = "audit_logentry_take"
_BEGIN_TAKE_SEQ_SQL_POSTGRESQL = f"BEGIN; EXECUTE {_TAKE_PREPARED_NAME}"
_PREPARED_NAME = "audit_logentry_append"
_PREPARED_STATEMENTS = {
    _TAKE_PREPARED_NAME: (
        "PREPARE audit_logentry_take AS WITH transaction_id AS MATERIALIZED (SELECT pg_current_xact_id()) "
        "SELECT nextval('audit_logentry_seq') FROM transaction_id"
    ),
    _PREPARED_NAME: "PREPARE {} AS INSERT INTO audit_logentry ({}) VALUES ({})".format(  # noqa: S608
        _PREPARED_NAME, _COLUMN_LIST, ", ".join(f"${n}" for n in range(1, len(_INSERT_COLUMNS) + 1))
    ),
}
_PREPARE_SQL_POSTGRESQL = "; ".join(_PREPARED_STATEMENTS.values())
_NO_SUCH_PREPARED_STATEMENT = "26000"  # invalid_sql_statement_name
_EXECUTE_COMMIT_SQL_POSTGRESQL = "EXECUTE {} ({}); COMMIT".format(  # noqa: S608
    _PREPARED_NAME, ", ".join(["%s"] * len(_INSERT_COLUMNS))
)


# The sealer's record of a number whose transaction rolled back.
_VOID_SQL_POSTGRESQL = _INSERT_SQL


# Attempts at a free number before giving up (each failed one means a row was put in the log by hand).
_SQUATTED_MAX = 100


VOID_EVENT_TYPE = "audit.number_void"


_MAX_LENGTHS = {
    "actor_id": 64,
    "actor_username": 150,
    "source_ip": 45,
    "user_agent": 512,
    "subject_kind": 64,
    "subject_id": 64,
    "subject_repr": 255,
    "filing_number": 64,
    "model_record": 128,
    "checkpoint_sha256": 64,
    "keyword_library_version": 64,
    "produce_id": 64,
}


_TEXT_FIELDS = tuple(_MAX_LENGTHS)


_HEX64 = re.compile(r"^[0-9a-f]{64}$")


_DECISIONS = frozenset(Decision.values)


_RISK_CODE = re.compile(r"^[A-Za-z0-9_.\-]{1,32}$")


_FIELDS_ACCEPTED = frozenset(
    {
        *_TEXT_FIELDS,
        "source_port",
        "decision",
        "risk_codes",
        "input_sha256",
        "output_sha256",
        "input_content",
        "output_content",
        "input_media_type",
        "output_media_type",
        "payload",
    }
)


def _text(value: Any, name: str) -> str:
    if value is None:
        return ""
    text = str(value).replace("\x00", "\ufffd")
    limit = _MAX_LENGTHS.get(name)
    return text[:limit] if limit else text


def _client_address(request: Any) -> tuple[str, int | None]:
    meta = request.META
    ip = client_address(request)
    raw_port = meta.get(settings.AUDIT_CLIENT_PORT_HEADER or "REMOTE_PORT", "") or ""
    try:
        port: int | None = int(str(raw_port).split(",")[-1].strip())
    except ValueError:
        port = None
    return ip, port


def _subject_fields(subject: Any) -> dict[str, str]:
    if subject is None:
        return {}
    if isinstance(subject, tuple):
        kind, ident, *rest = subject
        return {"subject_kind": str(kind), "subject_id": str(ident), "subject_repr": str(rest[0]) if rest else ""}
    meta = getattr(subject, "_meta", None)
    if meta is None:
        raise TypeError("subject must be a model instance or a (kind, id, repr) tuple")
    return {"subject_kind": meta.label_lower, "subject_id": str(subject.pk), "subject_repr": str(subject)}


def _content_prepare(content: str | bytes, media_type: str | None) -> tuple[bytes, str]:
    if isinstance(content, str):
        return content.encode("utf-8"), media_type or "text/plain; charset=utf-8"
    if isinstance(content, bytes | bytearray | memoryview):
        return bytes(content), media_type or "application/octet-stream"
    raise TypeError(f"content must be str or bytes, not {type(content).__name__}")


def event_record(
    *,
    event_type: str,
    actor: Any = None,
    request: Any = None,
    subject: Any = None,
    **fields: Any,
) -> LogEntry:
    """Append one record to the audit log and return it.

    ``event_type``: a name from ``audit.catalogue.EVENT_TYPES``.
    ``actor``: the user who acted (id and username are copied); default ``request.user`` if signed
    in; ``None`` with no request means the platform itself (give ``actor_username="system:..."``).
    ``request``: the Django request, for source IP, port and user agent.
    ``subject``: what the event is about: a model instance or a ``(kind, id, repr)`` tuple.

    Other keyword fields (all optional): ``actor_id``, ``actor_username``, ``source_ip``,
    ``source_port``, ``user_agent``, ``subject_kind``, ``subject_id``, ``subject_repr``,
    ``filing_number``, ``model_record``, ``checkpoint_sha256``, ``keyword_library_version``,
    ``decision`` ('allowed', 'refused', 'blocked'), ``risk_codes`` (iterable of codes such as
    'A.1.2'), ``produce_id``, ``input_sha256`` / ``output_sha256`` (hex) or ``input_content`` /
    ``output_content`` (str or bytes, stored apart and digested; ``input_media_type`` /
    ``output_media_type`` name their type), ``payload`` (dict matching the catalogue).

    Raises ``PayloadError`` (a ``ValueError``) for an unknown type or a payload that does not match,
    ``TypeError`` for an unknown field.
    """
    unknown = set(fields) - _FIELDS_ACCEPTED
    if unknown:
        raise TypeError(f"event_record() got unknown field(s): {', '.join(sorted(unknown))}")
    event = event_type_get(event_type)
    payload = fields.pop("payload", None) or {}
    payload_validate(event, payload)
    try:
        payload_text = integrity.payload_canonical(payload)
    except (TypeError, ValueError) as exc:
        raise PayloadError(f"{event_type}: payload is not plain JSON ({exc})") from None

    values: dict[str, Any] = {}
    if request is not None:
        values["source_ip"], values["source_port"] = _client_address(request)
        values["user_agent"] = request.META.get("HTTP_USER_AGENT", "")
        if actor is None and getattr(request, "user", None) is not None and request.user.is_authenticated:
            actor = request.user
    if actor is not None:
        values["actor_id"] = str(actor.pk)
        values["actor_username"] = actor.get_username() if hasattr(actor, "get_username") else str(actor)
    values.update(_subject_fields(subject))
    values.update({k: v for k, v in fields.items() if v is not None and not k.endswith(("_content", "_media_type"))})

    decision = values.get("decision") or ""
    if decision not in _DECISIONS:
        raise PayloadError(f"decision must be one of {Decision.values}, not {decision!r}")
    codes = values.get("risk_codes") or ()
    if isinstance(codes, str):
        codes = [codes]
    codes = sorted({str(c) for c in codes})
    bad = [c for c in codes if not _RISK_CODE.match(c)]
    if bad:
        raise PayloadError(f"risk codes must be short codes like 'A.1.2', not {bad!r}")
    risk_codes = ";".join(codes)
    if len(risk_codes) > 512:
        raise PayloadError("too many risk codes for one record")

    contents: list[Content] = []
    now = timezone.now()
    for side in ("input", "output"):
        content = fields.get(f"{side}_content")
        digest = values.get(f"{side}_sha256") or ""
        if content is not None:
            body, media_type = _content_prepare(content, fields.get(f"{side}_media_type"))
            computed = hashlib.sha256(body).hexdigest()
            if digest and digest != computed:
                raise PayloadError(f"{side}_sha256 does not match {side}_content")
            digest = computed
            contents.append(
                Content(digest=digest, media_type=media_type[:100], size=len(body), body=body, created_at=now)
            )
        digest = str(digest).lower()
        if digest and not _HEX64.match(digest):
            raise PayloadError(f"{side}_sha256 must be 64 hex digits")
        values[f"{side}_sha256"] = digest

    port = values.get("source_port")
    if port not in (None, ""):
        try:
            port = int(port)
        except (TypeError, ValueError):
            raise PayloadError(f"source_port must be a whole number, not {port!r}") from None
    row: dict[str, Any] = {name: _text(values.get(name), name) for name in _TEXT_FIELDS}
    row.update(
        source_port=port if port not in (None, "") else None,
        event_type=event_type,
        decision=decision,
        risk_codes=risk_codes,
        input_sha256=values["input_sha256"],
        output_sha256=values["output_sha256"],
        payload=payload_text,
    )
    return _entry_append(row, contents)


def _entry_params(row: dict[str, Any], db: Any = None) -> tuple[list[Any], str]:
    """The insert parameters after ``seq`` up to the record hash; sets ``row["created_at"]``."""
    # The hash does not cover the sequence number, so the record is complete before it gets one;
    # the tag, added once the number is known, covers both.
    row["created_at"] = created_at = timezone.now()
    canonical = [row[name] for name in integrity.RECORD_FIELDS]
    canonical[0] = integrity.time_canonical(created_at)
    row_hash = integrity.record_hash(canonical)
    params = [*(row[name] for name in integrity.RECORD_FIELDS), row_hash]
    params[0] = (db or connection).ops.adapt_datetimefield_value(created_at)
    return params, row_hash


class NumberSquattedError(RuntimeError):
    """Every number tried was already taken by a row the platform did not write."""


def _squatted() -> NumberSquattedError:
    return NumberSquattedError(
        f"audit: {_SQUATTED_MAX} numbers in a row were already taken by rows put in the log by hand"
    )


def _append_postgresql_autocommit(db: Any, params: list[Any], row_hash: str, key: bytes) -> tuple[int, str]:
    """Two round trips on the driver's own cursor: Django's cursor wrapper (query logging, debug hooks) would cost
    about as much CPU as the rest of the write. Errors still pass through Django's translation, so a lost database
    marks the connection unusable as any query does."""
    db.ensure_connection()
    with db.wrap_database_errors:
        raw = db.connection
        cursor = raw.cursor()
        try:
            if getattr(db, "_audit_prepared_on", None) is not raw:
                # A new connection (the first record, or a reconnect): prepare the statements on it first.
                cursor.execute(_PREPARE_SQL_POSTGRESQL)
                db._audit_prepared_on = raw
            for _attempt in range(_SQUATTED_MAX):
                try:
                    cursor.execute(_BEGIN_TAKE_SEQ_SQL_POSTGRESQL)
                    seq = int(cursor.fetchone()[0])
                    tag = integrity.record_tag(key, seq, row_hash)
                    cursor.execute(_EXECUTE_COMMIT_SQL_POSTGRESQL, [seq, *params, tag])
                except db.Database.IntegrityError:
                    cursor.execute("ROLLBACK")
                    continue
                except db.Database.DatabaseError as error:
                    if getattr(error, "pgcode", None) != _NO_SUCH_PREPARED_STATEMENT:
                        with contextlib.suppress(Exception):
                            cursor.execute("ROLLBACK")
                        raise
                    # Dropped behind the writer's back (DEALLOCATE, DISCARD ALL): prepare it again. The number
                    # taken is left to the sealer, as for any rolled-back writer.
                    cursor.execute("ROLLBACK")
                    cursor.execute(
                        "SELECT name FROM pg_prepared_statements WHERE name = ANY(%s)", [list(_PREPARED_STATEMENTS)]
                    )
                    present = {name for (name,) in cursor.fetchall()}
                    for name, sql in _PREPARED_STATEMENTS.items():
                        if name not in present:
                            cursor.execute(sql)
                    continue
                except BaseException:
                    with contextlib.suppress(Exception):
                        cursor.execute("ROLLBACK")
                    raise
                return seq, tag
        finally:
            cursor.close()
    raise _squatted()


def _contents_sql(contents: list[Content], db: Any) -> tuple[str, list[Any]]:
    """The INSERT of ``contents`` that leaves a body already stored alone, to travel with the number's statements."""
    rows = ", ".join(["(%s, %s, %s, %s, %s)"] * len(contents))
    values: list[Any] = []
    for content in contents:
        values += [
            content.digest,
            content.media_type,
            content.size,
            db.Database.Binary(bytes(content.body)),
            db.ops.adapt_datetimefield_value(content.created_at),
        ]
    sql = f"INSERT INTO audit_content (digest, media_type, size, body, created_at) VALUES {rows} "  # noqa: S608
    return sql + "ON CONFLICT (digest) DO NOTHING; ", values


def _append_in_transaction(
    cursor: Any, params: list[Any], row_hash: str, key: bytes, contents: list[Content]
) -> tuple[int, str]:
    postgresql = connection.vendor == "postgresql"
    if contents and not postgresql:
        Content.objects.bulk_create(contents, ignore_conflicts=True)
    for _attempt in range(_SQUATTED_MAX):
        if postgresql and contents:
            # The contents travel with the statements that take the number: one round trip for both.
            sql, values = _contents_sql(contents, connection)
            cursor.execute(sql + _TAKE_SEQ_SQL_POSTGRESQL, values)
            contents = []
        elif postgresql:
            cursor.execute(_TAKE_SEQ_SQL_POSTGRESQL)
        else:
            # Bumping the counter takes SQLite's write lock until commit: the next writer gets the
            # next number only after this record is committed, or this one again after a rollback.
            cursor.execute(_NEXT_SEQ_SQL)
        seq = int(cursor.fetchone()[0])
        tag = integrity.record_tag(key, seq, row_hash)
        cursor.execute(_INSERT_SQL, [seq, *params, tag])
        if cursor.rowcount == 1:
            return seq, tag
    raise _squatted()


def _entry_append(row: dict[str, Any], contents: list[Content]) -> LogEntry:
    db = connections[DEFAULT_DB_ALIAS]  # the connection itself: each attribute of the proxy is a thread-local lookup
    params, row_hash = _entry_params(row, db)
    key = tag_key()
    if db.vendor == "postgresql" and not contents and db.get_autocommit():
        # Outside a transaction: BEGIN and COMMIT travel with the statements, no round trip of their own.
        seq, tag = _append_postgresql_autocommit(db, params, row_hash, key)
    else:
        # Without a savepoint: if the insert fails the caller's transaction is rolled back anyway.
        with transaction.atomic(savepoint=False), connection.cursor() as cursor:
            seq, tag = _append_in_transaction(cursor, params, row_hash, key, contents)
    row.update(seq=seq, record_hash=row_hash, record_tag=tag)
    # Positional values, as for a row read back: about a third of the cost of keyword construction.
    return LogEntry.from_db(db.alias, _ENTRY_FIELDS, [row[name] for name in _ENTRY_FIELDS])


def numbers_gap_free() -> bool:
    """Whether a number is only given out to a record that commits (SQLite); on PostgreSQL a rolled-back
    writer leaves a hole until the sealer records its number as void."""
    return connection.vendor != "postgresql"


def _family_writer(family: str):  # type: ignore[no-untyped-def]
    def write(
        *, event_type: str, actor: Any = None, request: Any = None, subject: Any = None, **fields: Any
    ) -> LogEntry:
        if not event_type.startswith(f"{family}."):
            raise PayloadError(f"{family}_event() writes {family}.* events, not {event_type!r}")
        return event_record(event_type=event_type, actor=actor, request=request, subject=subject, **fields)

    write.__name__ = f"{family}_event"
    write.__doc__ = f"Append a ``{family}.*`` event; same arguments as ``event_record``."
    return write


generation_event = _family_writer("generation")


filing_event = _family_writer("filing")


auth_event = _family_writer("auth")


user_event = _family_writer("user")


label_event = _family_writer("label")


complaint_event = _family_writer("complaint")


audit_event = _family_writer("audit")


incident_event = _family_writer("incident")

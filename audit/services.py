"""The only writer of the audit log.

Other apps call ``event_record`` (or the family writer for their events, which checks the family
and then calls it). Every call appends one record in the caller's transaction: if the caller
rolls back, the record goes too.

Sequence numbers: on PostgreSQL they come from a sequence, so that concurrent writers commit (and
flush) together; a number taken by a transaction that rolls back is sealed later as an
``audit.number_void`` record, once no transaction that could hold it is still running, so the
sealed chain has no gaps. On SQLite, which serialises writers anyway, a counter row bumped in the
writer's transaction gives a rolled-back number back. Record the event as the last step of a
transaction, so that the sealer seldom waits for it.

Example::

    from audit import services as audit

    audit.generation_event(
        event_type="generation.refused",
        request=request,                     # actor, source IP and port, user agent
        subject=job,                         # any model instance, or ("kind", "id", "repr")
        filing_number=service.filing_number,
        model_record=str(model_record),
        keyword_library_version=library.version,
        decision="refused",
        risk_codes=["A.1.2"],
        input_content=prompt,                # stored apart, the record keeps its SHA-256
        payload={"reason": "The prompt asks for ...", "stage": "input_moderation"},
    )
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import tempfile
import time
from collections.abc import Iterable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Max, Q
from django.utils import timezone

from audit import integrity
from audit.catalogue import PayloadError, event_type_get, payload_validate
from audit.models import Content, Decision, LegalHold, LogEntry, PurgePermit, Seal

__all__ = [
    "PayloadError",
    "SealError",
    "RetentionError",
    "event_record",
    "generation_event",
    "filing_event",
    "auth_event",
    "user_event",
    "label_event",
    "complaint_event",
    "audit_event",
    "seals_make",
    "retention_purge",
    "legal_hold_set",
    "legal_hold_release",
    "pseudonym",
]

# Columns of ``audit_logentry`` in the order the writer inserts them.
_INSERT_COLUMNS = ("seq", *integrity.RECORD_FIELDS, "record_hash")
# Built once from constant column names; values always go as parameters.
_INSERT_SQL = "INSERT INTO audit_logentry ({}) VALUES ({})".format(  # noqa: S608
    ", ".join(_INSERT_COLUMNS), ", ".join(["%s"] * len(_INSERT_COLUMNS))
)
# SQLite: the counter row, bumped in the writer's transaction.
_NEXT_SEQ_SQL = "UPDATE audit_sequence SET last_seq = last_seq + 1 WHERE id = 1 RETURNING last_seq"
# PostgreSQL: one round trip of two statements. The first gives the transaction its id before the
# second takes a number, so that a sealer which sees a number given out can wait for every
# transaction that may still hold it (``_numbers_settled``).
_COLUMN_LIST = ", ".join(_INSERT_COLUMNS)
_APPEND_SQL_POSTGRESQL = (
    "SELECT pg_current_xact_id(); INSERT INTO audit_logentry ("  # noqa: S608 (constant column names)
    + _COLUMN_LIST
    + ") VALUES (nextval('audit_logentry_seq'), "
    + ", ".join(["%s"] * (len(_INSERT_COLUMNS) - 1))
    + ") RETURNING seq"
)
# The sealer's record of a number whose transaction rolled back.
_VOID_SQL_POSTGRESQL = "INSERT INTO audit_logentry ({}) VALUES ({}) ON CONFLICT (seq) DO NOTHING".format(  # noqa: S608
    ", ".join(_INSERT_COLUMNS), ", ".join(["%s"] * len(_INSERT_COLUMNS))
)
_GIVEN_OUT_SQL = {
    "postgresql": "SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END FROM audit_logentry_seq",
    "sqlite": "SELECT last_seq FROM audit_sequence WHERE id = 1",
}
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


class SealError(RuntimeError):
    """Sealing cannot proceed (the records to seal are not contiguous)."""


class RetentionError(ValueError):
    """The retention setting is below the legal minimum."""


# ------------------------------------------------------------------------------
# Writing records
# ------------------------------------------------------------------------------
def _text(value: Any, name: str) -> str:
    if value is None:
        return ""
    text = str(value).replace("\x00", "\ufffd")
    limit = _MAX_LENGTHS.get(name)
    return text[:limit] if limit else text


def _client_address(request: Any) -> tuple[str, int | None]:
    meta = request.META
    raw_ip = meta.get(settings.AUDIT_CLIENT_IP_HEADER or "REMOTE_ADDR", "") or ""
    # A proxy header may list several hops; the last one was added by the proxy we trust.
    ip = raw_ip.split(",")[-1].strip()
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
    if decision not in Decision.values:
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


def _entry_params(row: dict[str, Any]) -> tuple[list[Any], str]:
    """The insert parameters after ``seq`` and the record hash; sets ``row["created_at"]``."""
    # The hash does not cover the sequence number, so the record is complete before it gets one.
    row["created_at"] = created_at = timezone.now()
    canonical = [row[name] for name in integrity.RECORD_FIELDS]
    canonical[0] = integrity.time_canonical(created_at)
    row_hash = integrity.record_hash(canonical)
    params = [*(row[name] for name in integrity.RECORD_FIELDS), row_hash]
    params[0] = connection.ops.adapt_datetimefield_value(created_at)
    return params, row_hash


def _entry_append(row: dict[str, Any], contents: list[Content]) -> LogEntry:
    params, row_hash = _entry_params(row)
    if connection.vendor == "postgresql" and not contents and connection.get_autocommit():
        # Outside a transaction the two statements run as one implicit transaction: one round trip,
        # no BEGIN and COMMIT of their own.
        with connection.cursor() as cursor:
            cursor.execute(_APPEND_SQL_POSTGRESQL, params)
            seq = cursor.fetchone()[0]
        return LogEntry(seq=seq, record_hash=row_hash, **row)
    # Without a savepoint: if the insert fails the caller's transaction is rolled back anyway.
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        if contents:
            Content.objects.bulk_create(contents, ignore_conflicts=True)
        if connection.vendor == "postgresql":
            cursor.execute(_APPEND_SQL_POSTGRESQL, params)
            seq = cursor.fetchone()[0]
        else:
            # Bumping the counter takes SQLite's write lock until commit: the next writer gets the
            # next number only after this record is committed, or this one again after a rollback.
            cursor.execute(_NEXT_SEQ_SQL)
            seq = cursor.fetchone()[0]
            cursor.execute(_INSERT_SQL, [seq, *params])
    return LogEntry(seq=seq, record_hash=row_hash, **row)


def numbers_given_out() -> int:
    """The highest sequence number given out so far: committed, still in flight, or rolled back."""
    with connection.cursor() as cursor:
        cursor.execute(_GIVEN_OUT_SQL[connection.vendor])
        return int(cursor.fetchone()[0])


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


# ------------------------------------------------------------------------------
# Keys
# ------------------------------------------------------------------------------
def signing_key() -> Any:
    return integrity.private_key_from_seed(settings.AUDIT_SIGNING_KEY)


def public_key_raw() -> bytes:
    return integrity.public_key_raw(signing_key())


def public_keys() -> dict[str, bytes]:
    """Keys that verify seals, purges and manifests, by key id: the current one and earlier ones.

    After a key change, seals made with the old key still verify as long as its public key is
    listed in ``AUDIT_PREVIOUS_PUBLIC_KEYS`` (base64 of the 32 raw bytes).
    """
    keys = {}
    for text in getattr(settings, "AUDIT_PREVIOUS_PUBLIC_KEYS", []):
        raw = base64.b64decode(text)
        if len(raw) != 32:
            raise ValueError("AUDIT_PREVIOUS_PUBLIC_KEYS holds a key that is not 32 bytes of base64")
        keys[integrity.key_id(raw)] = raw
    current = public_key_raw()
    keys[integrity.key_id(current)] = current
    return keys


def purge_signature_valid(payload: dict[str, Any], keys: dict[str, bytes]) -> bool:
    message = integrity.purge_message(blocks=payload.get("blocks", []), cutoff=payload.get("cutoff", ""))
    return any(integrity.signature_valid(raw, message, payload.get("signature", "")) for raw in keys.values())


def pseudonym_key() -> bytes:
    return (
        settings.AUDIT_PSEUDONYM_KEY.encode()
        or hmac.new(settings.SECRET_KEY.encode(), b"audit-pseudonym", "sha256").digest()
    )


def pseudonym(value: str, *, key: bytes | None = None) -> str:
    """Keyed hash standing for a person in pseudonymised exports (stable per key)."""
    if not value:
        return ""
    return "p_" + hmac.digest(key or pseudonym_key(), value.encode(), "sha256").hex()[:20]


# ------------------------------------------------------------------------------
# Sealing
# ------------------------------------------------------------------------------
def _lock_sealing() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            # One sealer at a time across all processes; released at commit.
            cursor.execute("SELECT pg_advisory_xact_lock(7370001)")
    # SQLite transactions here start IMMEDIATE and so already hold the write lock.


def _numbers_settled(cursor: Any, *, timeout: float) -> int | None:
    """PostgreSQL: the highest number N such that every transaction that took a number <= N has ended.

    Every writer has its transaction id before it takes a number (``_APPEND_SQL_POSTGRESQL``), so a
    transaction holding a number <= the last one given out is either over or in the snapshot taken
    after reading it; wait for those to end. ``None`` if they are still running after ``timeout``
    seconds (a long transaction in this database): then nothing is voided this time.

    The snapshot lists the running transactions of the whole cluster; only those of this database
    (sessions, or prepared transactions) can hold a number, so those of other databases sharing the
    server are not waited for.
    """
    cursor.execute(_GIVEN_OUT_SQL["postgresql"])
    given_out = int(cursor.fetchone()[0])
    cursor.execute("SELECT pg_stat_clear_snapshot()")  # pg_stat_activity as it is now, not as first read
    cursor.execute(
        "SELECT x::text FROM pg_snapshot_xip(pg_current_snapshot()) AS x "
        "WHERE x IS DISTINCT FROM pg_current_xact_id_if_assigned() AND x::xid IN ("
        "  SELECT backend_xid FROM pg_stat_activity WHERE datname = current_database() AND backend_xid IS NOT NULL"
        "  UNION ALL SELECT transaction FROM pg_prepared_xacts WHERE database = current_database())"
    )
    running = [row[0] for row in cursor.fetchall()]
    deadline = time.monotonic() + timeout
    while running:
        cursor.execute("SELECT x::text FROM unnest(%s::xid8[]) AS x WHERE pg_xact_status(x) = 'in progress'", [running])
        running = [row[0] for row in cursor.fetchall()]
        if not running:
            break
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.005)
    return given_out


def _voids_record(cursor: Any, first: int, last: int) -> int:
    """Seal-time records for the numbers of ``first..last`` that have no record (their writers rolled back)."""
    cursor.execute("SELECT count(*) FROM audit_logentry WHERE seq BETWEEN %s AND %s", [first, last])
    if cursor.fetchone()[0] == last - first + 1:
        return 0
    cursor.execute(
        "SELECT g FROM generate_series(%s::bigint, %s::bigint) AS g "
        "WHERE NOT EXISTS (SELECT 1 FROM audit_logentry AS e WHERE e.seq = g) ORDER BY g",
        [first, last],
    )
    holes = [row[0] for row in cursor.fetchall()]
    event_type_get(VOID_EVENT_TYPE)
    for seq in holes:
        row: dict[str, Any] = {name: "" for name in _TEXT_FIELDS}
        row.update(
            actor_username="system:audit-sealer",
            subject_kind="audit.sequence",
            subject_id=str(seq),
            subject_repr=f"number {seq}",
            source_port=None,
            event_type=VOID_EVENT_TYPE,
            decision="",
            risk_codes="",
            input_sha256="",
            output_sha256="",
            payload=integrity.payload_canonical({"reason": "rolled_back"}),
        )
        params, _hash = _entry_params(row)
        cursor.execute(_VOID_SQL_POSTGRESQL, [seq, *params])
    return len(holes)


def seals_make(
    *, block_size: int | None = None, max_blocks: int | None = None, settle_timeout: float | None = None
) -> list[Seal]:
    """Seal every record not yet sealed, in blocks of at most ``block_size``; return the new seals.

    On PostgreSQL only numbers whose transactions have all ended are sealed, and the numbers among
    them that have no record (rolled back) are first recorded as ``audit.number_void``; a
    transaction still running after ``settle_timeout`` seconds (``GENAI_AUDIT_SEAL_SETTLE_TIMEOUT``)
    leaves the records from the first missing number on to the next run.

    The newest seal is also written to ``settings.AUDIT_ANCHOR_PATH`` after commit, so that a tail
    cut from the database (records and seals deleted) is detected against it.
    """
    size = block_size or settings.AUDIT_SEAL_BLOCK_SIZE
    timeout = settings.AUDIT_SEAL_SETTLE_TIMEOUT_SECONDS if settle_timeout is None else settle_timeout
    key = signing_key()
    kid = integrity.key_id(integrity.public_key_raw(key))
    made: list[Seal] = []
    with transaction.atomic():
        _lock_sealing()
        last = Seal.objects.order_by("-number").first()
        number = last.number if last else 0
        prev_hash = last.seal_hash if last else integrity.GENESIS_SEAL_HASH
        next_seq = (last.last_seq + 1) if last else 1
        settled: int | None
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                settled = _numbers_settled(cursor, timeout=timeout)
                if settled is not None and settled >= next_seq:
                    _voids_record(cursor, next_seq, settled)
            else:
                # The write lock of this IMMEDIATE transaction: every number given out is committed.
                cursor.execute(_GIVEN_OUT_SQL["sqlite"])
                settled = int(cursor.fetchone()[0])
        while max_blocks is None or len(made) < max_blocks:
            # A range of numbers rather than ORDER BY ... LIMIT: an index range scan whatever the statistics.
            last_wanted = next_seq + size - 1 if settled is None else min(settled, next_seq + size - 1)
            rows = list(
                LogEntry.objects.filter(seq__range=(next_seq, last_wanted))
                .order_by("seq")
                .values_list("seq", "record_hash")
            )
            for offset, (seq, _hash) in enumerate(rows):
                if seq != next_seq + offset:
                    if settled is None:  # a number whose transaction may still be running: seal up to it
                        rows = rows[:offset]
                        break
                    raise SealError(f"cannot seal: record {next_seq + offset} is missing (next present is {seq})")
            if not rows:
                break
            hashes = [h for _seq, h in rows]
            number += 1
            digests = integrity.leaf_digests(hashes)
            fields: dict[str, Any] = {
                "number": number,
                "first_seq": rows[0][0],
                "last_seq": rows[-1][0],
                "record_count": len(rows),
                "merkle_root": integrity.merkle_root(hashes),
                "leaf_digests": digests,
                "prev_seal_hash": prev_hash,
                "sealed_at": integrity.time_canonical(timezone.now()),
                "key_id": kid,
            }
            message = integrity.seal_message(**fields)
            seal = Seal(**fields, seal_hash=hashlib.sha256(message).hexdigest(), signature=integrity.sign(key, message))
            seal.save(force_insert=True)
            made.append(seal)
            prev_hash = seal.seal_hash
            next_seq = seal.last_seq + 1
        if made:
            newest = made[-1]
            transaction.on_commit(lambda: anchor_write(newest))
    return made


def seal_as_dict(seal: Seal) -> dict[str, Any]:
    return {
        "number": seal.number,
        "first_seq": seal.first_seq,
        "last_seq": seal.last_seq,
        "record_count": seal.record_count,
        "merkle_root": seal.merkle_root,
        "leaves_sha256": hashlib.sha256(seal.leaf_digests.encode()).hexdigest(),
        "prev_seal_hash": seal.prev_seal_hash,
        "seal_hash": seal.seal_hash,
        "sealed_at": seal.sealed_at,
        "key_id": seal.key_id,
        "signature": seal.signature,
    }


def anchor_path() -> Path:
    return Path(settings.AUDIT_ANCHOR_PATH)


def anchor_read() -> dict[str, Any] | None:
    path = anchor_path()
    try:
        data: dict[str, Any] = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    return data


def anchor_write(seal: Seal) -> None:
    """Keep the newest seal (with its leaf digests) outside the database; never move it backwards."""
    path = anchor_path()
    current = anchor_read() if path.exists() else None
    if current and int(current.get("number", 0)) >= seal.number:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    body = dict(seal_as_dict(seal), leaf_digests=seal.leaf_digests)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".last-seal-")
    with os.fdopen(fd, "w") as f:
        json.dump(body, f, indent=1)
    os.replace(tmp, path)


# ------------------------------------------------------------------------------
# Retention and legal holds
# ------------------------------------------------------------------------------
# Six calendar months are at most 184 days; below that the log would be kept too short.
RETENTION_MINIMUM_DAYS = 184


def _holds_q(prefix: str = "") -> Q:
    q = Q(pk__in=[])
    for hold in LegalHold.objects.filter(released_at__isnull=True):
        if hold.actor_id:
            q |= Q(**{f"{prefix}actor_id": hold.actor_id})
        if hold.subject_kind:
            q |= Q(**{f"{prefix}subject_kind": hold.subject_kind, f"{prefix}subject_id": hold.subject_id})
    return q


def retention_purge(*, now: datetime | None = None) -> dict[str, int]:
    """Delete expired content, and expired sealed blocks of records, except what a legal hold covers.

    A block is deleted whole, only when every record in it is older than the retention period and
    none is held; its seal stays, and a signed ``audit.purged`` record says which blocks went, so
    verification tells a purge from a deletion. Returns counts of what was deleted.
    """
    days = settings.AUDIT_RETENTION_DAYS
    if days < RETENTION_MINIMUM_DAYS:
        raise RetentionError(
            f"AUDIT_RETENTION_DAYS is {days}; the log must be kept at least six calendar months "
            f"({RETENTION_MINIMUM_DAYS} days)"
        )
    cutoff = (now or timezone.now()) - timedelta(days=days)
    holds = _holds_q()
    purged_blocks = set(_purged_blocks_signed())

    # Content: expired, not referenced by a recent or held record.
    kept_digests = LogEntry.objects.filter(Q(created_at__gte=cutoff) | holds)
    keep = set(kept_digests.exclude(input_sha256="").values_list("input_sha256", flat=True))
    keep |= set(kept_digests.exclude(output_sha256="").values_list("output_sha256", flat=True))
    expired = Content.objects.filter(created_at__lt=cutoff).exclude(digest__in=keep)
    content_deleted, _ = expired.delete()

    blocks: list[list[int]] = []
    records_deleted = 0
    for seal in Seal.objects.order_by("number").iterator():
        if seal.number in purged_blocks:
            continue
        in_block = LogEntry.objects.filter(seq__gte=seal.first_seq, seq__lte=seal.last_seq)
        newest = in_block.aggregate(newest=Max("created_at"))["newest"]
        if newest is None:
            continue
        if newest >= cutoff:
            continue
        if in_block.filter(holds).exists():
            continue
        with transaction.atomic():
            permit = PurgePermit.objects.create(first_seq=seal.first_seq, last_seq=seal.last_seq)
            records_deleted += in_block.delete()[0]
            permit.delete()
            block = [seal.number, seal.first_seq, seal.last_seq]
            cutoff_text = integrity.time_canonical(cutoff)
            signature = integrity.sign(signing_key(), integrity.purge_message(blocks=[block], cutoff=cutoff_text))
            audit_event(
                event_type="audit.purged",
                actor_username="system:retention",
                payload={"blocks": [block], "cutoff": cutoff_text, "signature": signature},
            )
        blocks.append(block)
    if content_deleted and not blocks:
        audit_event(
            event_type="audit.purged",
            actor_username="system:retention",
            payload={
                "blocks": [],
                "cutoff": integrity.time_canonical(cutoff),
                "signature": integrity.sign(
                    signing_key(), integrity.purge_message(blocks=[], cutoff=integrity.time_canonical(cutoff))
                ),
                "content_deleted": content_deleted,
            },
        )
    return {"content_deleted": content_deleted, "blocks_deleted": len(blocks), "records_deleted": records_deleted}


def _purged_blocks_signed() -> Iterable[int]:
    """Seal numbers of blocks deleted by a purge whose record carries a valid signature."""
    keys = public_keys()
    for text in LogEntry.objects.filter(event_type="audit.purged").values_list("payload", flat=True):
        payload = json.loads(text)
        if purge_signature_valid(payload, keys):
            yield from (int(block[0]) for block in payload["blocks"])


def legal_hold_set(
    *, reason: str, actor: Any = None, actor_id: str = "", subject_kind: str = "", subject_id: str = ""
) -> LegalHold:
    """Stop purging records (and their content) of an actor or of a subject until released."""
    if not actor_id and not (subject_kind and subject_id):
        raise ValueError("a legal hold names an actor id, or a subject kind and id")
    with transaction.atomic():
        hold = LegalHold(
            actor_id=actor_id,
            subject_kind=subject_kind,
            subject_id=subject_id,
            reason=reason,
            created_by=actor.get_username() if actor is not None else "system",
        )
        hold.full_clean()
        hold.save()
        audit_event(
            event_type="audit.legal_hold_set",
            actor=actor,
            actor_username=None if actor is not None else "system",
            subject=("audit.legalhold", hold.pk, str(hold)),
            payload={"hold_id": hold.pk, "reason": reason},
        )
    return hold


def legal_hold_release(*, hold: LegalHold, actor: Any = None) -> LegalHold:
    with transaction.atomic():
        hold.released_at = timezone.now()
        hold.save(update_fields=["released_at"])
        audit_event(
            event_type="audit.legal_hold_released",
            actor=actor,
            actor_username=None if actor is not None else "system",
            subject=("audit.legalhold", hold.pk, str(hold)),
            payload={"hold_id": hold.pk},
        )
    return hold


def public_key_b64() -> str:
    return base64.b64encode(public_key_raw()).decode()

"""Sealing: records are sealed in order into signed blocks (Merkle root, chained), voids fill the numbers that have
no record (PostgreSQL), and the newest seal is anchored outside the database.

On PostgreSQL a number without a record may be a rolled-back transaction's or a record deleted before its seal: the
database keeps no trace that tells the two apart. So the sealer never seals such a number as anything but missing:
its ``audit.number_void`` record says "no record when sealed", is sealed and signed with the block, and
``audit_verify`` and the auditors' banner name every such number.

Before a record is sealed its columns are hashed again and its tag checked (``audit.integrity``):
a record changed, swapped, missing or forged is not sealed. The sealer seals the records before
it, stops there, logs an error and writes one ``audit.seal_refused`` record, which the auditors'
integrity banner shows while the bad record stays unsealed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from audit import integrity
from audit.catalogue import event_type_get
from audit.models import LogEntry, Seal
from audit.selectors import _GIVEN_OUT_SQL, canonical_time_sql, numbers_given_out
from audit.services.keys import signing_key, tag_key
from audit.services.writer import (
    _TEXT_FIELDS,
    _VOID_SQL_POSTGRESQL,
    VOID_EVENT_TYPE,
    _entry_params,
    audit_event,
)
from genai_platform.object_storage import s3_client, s3_location_split

logger = logging.getLogger(__name__)


REFUSED_EVENT_TYPE = "audit.seal_refused"


# The reason an ``audit.number_void`` record gives, and how a number without a record is described wherever it is
# reported: the sealer cannot tell a rolled-back transaction's number from a record deleted before its seal.
VOID_REASON = "no_record_when_sealed"
MISSING_WORDS = "rolled back or deleted before sealing"


def numbers_text(numbers: list[int], *, more: int = 0) -> str:
    """``1234, 1240`` (and how many more are not listed)."""
    text = ", ".join(str(n) for n in numbers)
    return f"{text} and {more} more" if more else text


class SealError(RuntimeError):
    """Sealing cannot proceed."""


class SealRefused(SealError):
    """A record not yet sealed fails its check; the records before it were sealed, it and those after were not."""

    def __init__(self, seq: int, kind: str, detail: str) -> None:
        super().__init__(f"record {seq}: {kind}: {detail}")
        self.seq, self.kind, self.detail = seq, kind, detail
        self.seals: list[Seal] = []  # the seals made before the bad record


def record_rows(first: int, last: int) -> list[tuple[Any, ...]]:
    """Records ``first..last`` in order as ``(seq, *RECORD_FIELDS with created_at as canonical text,
    record_hash, record_tag)``: the form ``integrity.record_hash`` and ``tagged_record_problem`` take."""
    columns = ", ".join(("seq", canonical_time_sql(), *integrity.RECORD_FIELDS[1:], "record_hash", "record_tag"))
    # Only constant column names and expressions are put in the text; values go as parameters.
    sql = f"SELECT {columns} FROM audit_logentry WHERE seq >= %s AND seq <= %s ORDER BY seq"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, [first, last])
        return cursor.fetchall()


def _lock_sealing() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            # One sealer at a time across all processes; released at commit.
            cursor.execute("SELECT pg_advisory_xact_lock(7370001)")


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


def _voids_record(cursor: Any, first: int, last: int) -> list[int]:
    """Seal-time records for the numbers of ``first..last`` that have no record: rolled back, or deleted before
    sealing. Returns those numbers."""
    cursor.execute("SELECT count(*) FROM audit_logentry WHERE seq BETWEEN %s AND %s", [first, last])
    if cursor.fetchone()[0] == last - first + 1:
        return []
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
            payload=integrity.payload_canonical({"reason": VOID_REASON}),
        )
        params, row_hash = _entry_params(row)
        cursor.execute(_VOID_SQL_POSTGRESQL, [seq, *params, integrity.record_tag(tag_key(), seq, row_hash)])
    if holes:
        logger.warning(
            "audit: sequence numbers %s had no record when sealed (%s); sealed as void",
            numbers_text(
                holes[: settings.AUDIT_MISSING_NUMBERS_LISTED], more=len(holes[settings.AUDIT_MISSING_NUMBERS_LISTED :])
            ),
            MISSING_WORDS,
        )
    return holes


def seals_make(
    *, block_size: int | None = None, max_blocks: int | None = None, settle_timeout: float | None = None
) -> list[Seal]:
    """Seal every record not yet sealed, in blocks of at most ``block_size``; return the new seals.

    On PostgreSQL only numbers whose transactions have all ended are sealed, and the numbers among
    them that have no record (rolled back, or deleted before sealing) are first recorded as
    ``audit.number_void``, named in a warning and reported by ``audit_verify`` from then on; a
    transaction still running after ``settle_timeout`` seconds (``GENAI_AUDIT_SEAL_SETTLE_TIMEOUT``)
    leaves the records from the first missing number on to the next run.

    Every record is checked before it is sealed (hash and tag). At the first bad one the records
    before it are sealed and committed, the problem is recorded (``audit.seal_refused``) and
    ``SealRefused`` is raised, naming it.

    The newest seal is also written to ``settings.AUDIT_ANCHOR_PATH`` after commit, so that a tail
    cut from the database (records and seals deleted) is detected against it.
    """
    size = block_size or settings.AUDIT_SEAL_BLOCK_SIZE
    timeout = settings.AUDIT_SEAL_SETTLE_TIMEOUT_SECONDS if settle_timeout is None else settle_timeout
    key = signing_key()
    tagging_key = tag_key()
    kid = integrity.key_id(integrity.public_key_raw(key))
    made: list[Seal] = []
    refused: SealRefused | None = None
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
            window = last_wanted - next_seq + 1
            if window <= 0:
                break
            rows, refused = _rows_checked(record_rows(next_seq, last_wanted), next_seq, tagging_key, settled)
            if rows:
                seal = _seal_block(rows, number + 1, prev_hash, kid, key)
                made.append(seal)
                number, prev_hash, next_seq = seal.number, seal.seal_hash, seal.last_seq + 1
            if refused or len(rows) < window:
                break
        complete = max_blocks is None or len(made) < max_blocks
        if refused is None and complete and settled is not None:
            refused = _missing_or_beyond(next_seq, settled)
        if made:
            newest = made[-1]
            transaction.on_commit(lambda: anchor_write(newest))
    if refused is not None:
        refused.seals = made
        _refusal_record(refused)
        raise refused
    return made


def _rows_checked(
    rows: list[tuple[Any, ...]], first: int, key: bytes, settled: int | None
) -> tuple[list[tuple[int, str]], SealRefused | None]:
    """``(seq, record_hash)`` of the records from ``first`` on that pass their checks, up to the first that does not."""
    good: list[tuple[int, str]] = []
    for offset, row in enumerate(rows):
        seq = row[0]
        if seq != first + offset:
            if settled is None:  # a number whose transaction may still be running: seal up to it
                return good, None
            missing = first + offset
            return good, SealRefused(
                missing, integrity.DELETED, f"record {missing} is missing (the next present is {seq})"
            )
        problem = integrity.tagged_record_problem(row, key)
        if problem is not None:
            return good, SealRefused(seq, *problem)
        good.append((seq, row[-2]))
    return good, None


def _seal_block(rows: list[tuple[int, str]], number: int, prev_hash: str, kid: str, key: Any) -> Seal:
    hashes = [h for _seq, h in rows]
    fields: dict[str, Any] = {
        "number": number,
        "first_seq": rows[0][0],
        "last_seq": rows[-1][0],
        "record_count": len(rows),
        "merkle_root": integrity.merkle_root(hashes),
        "leaf_digests": integrity.leaf_digests(hashes),
        "prev_seal_hash": prev_hash,
        "sealed_at": integrity.time_canonical(timezone.now()),
        "key_id": kid,
    }
    message = integrity.seal_message(**fields)
    seal = Seal(**fields, seal_hash=hashlib.sha256(message).hexdigest(), signature=integrity.sign(key, message))
    seal.save(force_insert=True)
    return seal


def _missing_or_beyond(next_seq: int, settled: int) -> SealRefused | None:
    """After sealing up to ``settled``: a settled number without a record, or a record beyond every number given out."""
    if next_seq <= settled:
        # SQLite: every number given out is committed; on PostgreSQL voids filled the rolled-back ones.
        return SealRefused(next_seq, integrity.DELETED, f"record {next_seq} is missing")
    beyond = LogEntry.objects.filter(seq__gt=settled).order_by("seq").values_list("seq", flat=True).first()
    # A number is given out before its record is written: read the numbers given out after the record.
    if beyond is not None and beyond > numbers_given_out():
        return SealRefused(beyond, integrity.INSERTED, "it lies beyond the last number given out")
    return None


def _refusal_record(refused: SealRefused) -> None:
    """Log the refusal, and record it once (not again at every run while the same record blocks sealing)."""
    logger.error("audit sealing stopped: %s", refused)
    payload = {"seq": refused.seq, "kind": refused.kind, "problem": refused.detail}
    last = LogEntry.objects.filter(event_type=REFUSED_EVENT_TYPE).order_by("-seq").values_list("payload", flat=True)
    previous = last.first()
    if previous is not None and previous == integrity.payload_canonical(payload):
        return
    audit_event(event_type=REFUSED_EVENT_TYPE, actor_username="system:audit-sealer", payload=payload)


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
    """The anchor's file when ``AUDIT_ANCHOR_PATH`` is a local path (not an ``s3://bucket/key`` location)."""
    if s3_location_split(settings.AUDIT_ANCHOR_PATH) is not None:
        raise ValueError(f"the anchor is kept in a bucket ({settings.AUDIT_ANCHOR_PATH}), not in a local file")
    return Path(settings.AUDIT_ANCHOR_PATH)


def _anchor_s3() -> tuple[Any, str, str] | None:
    """``(client, bucket, key)`` when the anchor is kept in a bucket (``AUDIT_ANCHOR_PATH`` is ``s3://bucket/key``)."""
    location = s3_location_split(settings.AUDIT_ANCHOR_PATH)
    if location is None:
        return None
    client = s3_client(
        access_key_id=settings.AUDIT_ANCHOR_S3_ACCESS_KEY_ID,
        secret_access_key=settings.AUDIT_ANCHOR_S3_SECRET_ACCESS_KEY,
    )
    return client, location[0], location[1]


def anchor_read() -> dict[str, Any] | None:
    """The newest seal kept outside the database, or ``None`` when none was written yet."""
    s3 = _anchor_s3()
    if s3 is not None:
        client, bucket, key = s3
        try:
            text = client.get_object(Bucket=bucket, Key=key)["Body"].read()
        except client.exceptions.NoSuchKey:
            return None
    else:
        try:
            text = anchor_path().read_text()
        except FileNotFoundError:
            return None
    data: dict[str, Any] = json.loads(text)
    return data


def anchor_write(seal: Seal) -> None:
    """Keep the newest seal (with its leaf digests) outside the database; never move it backwards."""
    current = anchor_read()
    if current and int(current.get("number", 0)) >= seal.number:
        return
    _anchor_put(dict(seal_as_dict(seal), leaf_digests=seal.leaf_digests))


def _anchor_put(body: dict[str, Any]) -> None:
    """Replace the anchor whole: one PUT of the object in a bucket, or a rename over the local file."""
    s3 = _anchor_s3()
    if s3 is not None:
        client, bucket, key = s3
        client.put_object(
            Bucket=bucket, Key=key, Body=json.dumps(body, indent=1).encode(), ContentType="application/json"
        )
        return
    path = anchor_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".last-seal-")
    with os.fdopen(fd, "w") as f:
        json.dump(body, f, indent=1)
    os.replace(tmp, path)


# The newest seal as (number, last sequence number); plain SQL so that any DB-API cursor can read it,
# for instance the one reading a backup's database snapshot.
_SEAL_NEWEST_SQL = "SELECT number, last_seq FROM audit_seal ORDER BY number DESC LIMIT 1"


def seal_newest_read(cursor: Any) -> tuple[int, int]:
    """``(number, last_seq)`` of the newest seal seen by ``cursor`` (a DB-API cursor); ``(0, 0)`` when none."""
    cursor.execute(_SEAL_NEWEST_SQL)
    row = cursor.fetchone()
    return (int(row[0]), int(row[1])) if row else (0, 0)


def anchor_restore(body: dict[str, Any]) -> dict[str, Any] | None:
    """Put a backup's copy of the anchor in place, unless the anchor here is at least as far on.

    Returns ``None`` when the backup's anchor was installed, or the anchor kept here when it was newer (or the
    same seal number): the anchor never moves backwards, so a restored log that ends before the anchor here
    is reported by ``audit_verify`` as a cut tail rather than passing.
    """
    current = anchor_read()
    if current is not None and int(current.get("number", 0)) >= int(body["number"]):
        return current
    _anchor_put(body)
    return None

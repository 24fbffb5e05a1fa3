"""Recompute the whole audit log and name the first bad record.

Reads records in sequence order, one sealed block at a time (constant memory), and checks:

- every seal: numbered without gaps, chained to the previous one, its hash and Ed25519 signature;
- every record of a block: its hash recomputed from its columns, against the stored hash and
  against the digest the seal kept for its position; the block's Merkle root;
- records after the last seal: their hash recomputed and their tag (an HMAC of the number and the
  hash, with a key the database does not hold) checked, so a record changed, swapped or made up
  since it was written is named; contiguous up to the last number given out (SQLite); on
  PostgreSQL a missing number after the last seal may belong to a transaction still running or
  rolled back, which the next seal records as void, so it is counted, not failed;
- the newest seal kept outside the database (the anchor file): present in the database.

A problem is reported with the first bad sequence number and one of the kinds below. Blocks
deleted by a retention purge (named in a record whose signature verifies) are skipped; their
seals still verify. A log too damaged to read (values of the wrong type, a garbled seal) is a
problem too, named with the record it was reading: verification never ends in a traceback.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from django.db import DatabaseError, connection
from django.db.models import Max

from audit import integrity
from audit.models import LogEntry, Seal
from audit.services import (
    NumberSquattedError,
    anchor_read,
    audit_event,
    numbers_gap_free,
    numbers_given_out,
    public_keys,
    purge_signature_valid,
    record_rows,
    tag_key,
)

CHANGED = integrity.CHANGED
DELETED = integrity.DELETED
INSERTED = integrity.INSERTED
REORDERED = integrity.REORDERED
FORGED = integrity.FORGED
UNREADABLE = integrity.UNREADABLE
FORGED_SEAL = "forged seal"
MISSING_SEAL = "missing seal"
TAIL_CUT = "tail cut"


@dataclass
class Problem:
    seq: int
    kind: str
    detail: str

    def __str__(self) -> str:
        return f"seq {self.seq}: {self.kind}: {self.detail}"


@dataclass
class VerifyResult:
    ok: bool = True
    problem: Problem | None = None
    records: int = 0
    seals: int = 0
    purged_blocks: int = 0
    unsealed: int = 0
    # PostgreSQL: numbers after the last seal without a record yet (in flight, or rolled back and
    # to be recorded as void by the next seal).
    unsettled: int = 0
    last_seal: int = 0
    last_seq: int = 0
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        if self.problem:
            return f"FAILED at {self.problem}"
        text = f"OK: {self.records} records and {self.seals} seals verified"
        if self.purged_blocks:
            text += f" ({self.purged_blocks} purged blocks, seals only)"
        if self.unsealed:
            text += f"; {self.unsealed} records after seal {self.last_seal} are not sealed yet"
        if self.unsettled:
            text += (
                f"; {self.unsettled} numbers after seal {self.last_seal} have no record yet "
                "(in flight, or rolled back: the next seal records those as void)"
            )
        return text


def _fetch(*, first: int, last: int) -> list[tuple[Any, ...]]:
    return record_rows(first, last)


def _rows(seq_from: int, seq_to: int | None, chunk: int = 5000) -> Iterator[tuple[Any, ...]]:
    """Records from ``seq_from`` in sequence order, read in windows of ``chunk`` sequence numbers.

    Windows of numbers rather than LIMIT pages: each query reads at most ``chunk`` rows whatever
    the planner's statistics say. Outside a transaction the next window is fetched by a helper
    thread (its own connection) while this one hashes the current one; inside one, windows are
    fetched in turn so that what the transaction wrote is seen.
    """
    top = LogEntry.objects.aggregate(top=Max("seq"))["top"] or 0
    upper = min(seq_to, top) if seq_to is not None else top
    starts = range(seq_from, upper + 1, chunk)

    def fetch(first: int) -> list[tuple[Any, ...]]:
        return _fetch(first=first, last=min(first + chunk - 1, upper))

    if connection.in_atomic_block:
        for first in starts:
            yield from fetch(first)
        return

    def close() -> None:
        connection.close()  # the helper thread's own connection

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="audit-verify") as pool:
        try:
            pending = [pool.submit(fetch, first) for first in starts[:1]]
            for first in starts[1:]:
                batch = pending.pop().result()
                pending.append(pool.submit(fetch, first))
                yield from batch
            for future in pending:
                yield from future.result()
        finally:
            pool.submit(close).result()


def block_rows(first_seq: int, last_seq: int) -> list[tuple[Any, ...]]:
    return _fetch(first=first_seq, last=last_seq)


def _computed(row: tuple[Any, ...]) -> str | None:
    """The record hash of a row as ``record_rows`` reads it; None if a column holds what no writer stores."""
    return integrity.record_hash_or_none(row[1:-2])


def _purged_blocks(keys: dict[str, bytes]) -> set[int]:
    purged: set[int] = set()
    for text in LogEntry.objects.filter(event_type="audit.purged").values_list("payload", flat=True):
        # A garbled payload names no purge: the blocks it would name are then checked as usual.
        try:
            payload = json.loads(text)
            if isinstance(payload, dict) and purge_signature_valid(payload, keys):
                purged.update(int(b[0]) for b in payload.get("blocks", []))
        except (TypeError, ValueError, IndexError, KeyError):
            continue
    return purged


def _seal_problem(seal: Seal, prev: Seal | None, keys: dict[str, bytes]) -> Problem | None:
    expected_number = prev.number + 1 if prev else 1
    expected_first = prev.last_seq + 1 if prev else 1
    if seal.number != expected_number:
        return Problem(
            expected_first,
            MISSING_SEAL,
            f"seal {expected_number} is missing (seal {seal.number} follows seal {expected_number - 1})",
        )
    if seal.prev_seal_hash != (prev.seal_hash if prev else integrity.GENESIS_SEAL_HASH):
        return Problem(seal.first_seq, FORGED_SEAL, f"seal {seal.number} is not chained to seal {expected_number - 1}")
    if seal.first_seq != expected_first or seal.last_seq - seal.first_seq + 1 != seal.record_count:
        return Problem(expected_first, FORGED_SEAL, f"seal {seal.number} does not continue where the previous ended")
    message = integrity.seal_message(
        number=seal.number,
        first_seq=seal.first_seq,
        last_seq=seal.last_seq,
        record_count=seal.record_count,
        merkle_root=seal.merkle_root,
        leaf_digests=seal.leaf_digests,
        prev_seal_hash=seal.prev_seal_hash,
        sealed_at=seal.sealed_at,
        key_id=seal.key_id,
    )
    public = keys.get(seal.key_id)
    if public is None:
        return Problem(seal.first_seq, FORGED_SEAL, f"seal {seal.number} names key {seal.key_id}, which is not ours")
    if hashlib.sha256(message).hexdigest() != seal.seal_hash:
        return Problem(seal.first_seq, FORGED_SEAL, f"seal {seal.number}: its hash does not match its fields")
    if not integrity.signature_valid(public, message, seal.signature):
        return Problem(seal.first_seq, FORGED_SEAL, f"seal {seal.number}: the signature does not verify")
    if len(seal.leaf_digests) != seal.record_count * integrity.LEAF_DIGEST_CHARS:
        return Problem(seal.first_seq, FORGED_SEAL, f"seal {seal.number}: wrong number of record digests")
    return None


def _block_problem(seal: Seal, rows: list[tuple[Any, ...]]) -> Problem | None:
    """Compare the records found in a sealed block with what the seal says it held."""
    # Fast path: every record present, in place, unchanged.
    if len(rows) == seal.record_count and rows and rows[0][0] == seal.first_seq and rows[-1][0] == seal.last_seq:
        computed_all = [_computed(row) for row in rows]
        hashes = [h for h in computed_all if h is not None]
        if (
            len(hashes) == len(rows)
            and hashes == [row[-2] for row in rows]
            and integrity.leaf_digests(hashes) == seal.leaf_digests
            and integrity.merkle_root(hashes) == seal.merkle_root
        ):
            return None
    expected = seal.leaf_digest_list()
    position_of = {digest: i for i, digest in enumerate(expected)}
    by_seq = {row[0]: row for row in rows}
    computed = {row[0]: _computed(row) for row in rows}
    for i, digest in enumerate(expected):
        seq = seal.first_seq + i
        row = by_seq.get(seq)
        if row is None:
            return Problem(seq, DELETED, f"record {seq} is sealed in seal {seal.number} but missing")
        actual = computed[seq]
        if actual is None:
            return Problem(seq, CHANGED, "a column holds NULL or a value of the wrong type")
        if actual != row[-2]:
            return Problem(seq, CHANGED, "its columns no longer match its stored record hash")
        if actual[: integrity.LEAF_DIGEST_CHARS] == digest:
            continue
        j = position_of.get(actual[: integrity.LEAF_DIGEST_CHARS])
        if j is not None and j > i:
            other = seal.first_seq + j
            back = computed.get(other)
            if back is not None and back[: integrity.LEAF_DIGEST_CHARS] == digest:
                return Problem(seq, REORDERED, f"records {seq} and {other} have swapped places")
            return Problem(seq, DELETED, f"record {seq} is missing; the records after it were renumbered")
        if j is not None and j < i:
            return Problem(seq, REORDERED, f"record {seq} holds what seal {seal.number} has at {seal.first_seq + j}")
        following = computed.get(seq + 1)
        if following is not None and following[: integrity.LEAF_DIGEST_CHARS] == digest:
            return Problem(seq, INSERTED, f"record {seq} was not in seal {seal.number}; the records after it moved up")
        return Problem(seq, CHANGED, "it differs from the record sealed at this position (its hash was rewritten)")
    if integrity.merkle_root([str(computed[seal.first_seq + i]) for i in range(len(expected))]) != seal.merkle_root:
        return Problem(seal.first_seq, CHANGED, f"the Merkle root of seal {seal.number} does not match its records")
    return None


def log_verify(
    *,
    seq_from: int | None = None,
    seq_to: int | None = None,
    use_anchor: bool = True,
    progress: Callable[[int], None] | None = None,
) -> VerifyResult:
    """Verify the log, or the blocks overlapping ``seq_from..seq_to``; stop at the first problem.

    ``progress`` is called with the last sequence number checked after each sealed block.

    Whatever the database holds, the answer is a result: a value that cannot be read as the
    platform writes it ends verification with an ``unreadable`` problem at the record (or the first
    record of the seal) being read, not with an exception.
    """
    result = VerifyResult()
    at = [seq_from or 1]  # where verification is: the record or block being read
    try:
        return _log_verify(result, at, seq_from=seq_from, seq_to=seq_to, use_anchor=use_anchor, progress=progress)
    except (DatabaseError, TypeError, ValueError, KeyError, IndexError, AttributeError, OverflowError) as exc:
        result.ok = False
        result.problem = Problem(at[0], UNREADABLE, f"the log cannot be read as written ({type(exc).__name__}: {exc})")
        return result


def _log_verify(
    result: VerifyResult,
    at: list[int],
    *,
    seq_from: int | None,
    seq_to: int | None,
    use_anchor: bool,
    progress: Callable[[int], None] | None,
) -> VerifyResult:
    keys = public_keys()
    tagging_key = tag_key()
    purged = _purged_blocks(keys)
    lo = seq_from or 1
    hi = seq_to

    def fail(problem: Problem) -> VerifyResult:
        result.ok = False
        result.problem = problem
        return result

    stray = LogEntry.objects.filter(seq__lt=1).order_by("seq").values_list("seq", flat=True).first()
    if stray is not None and seq_from is None:
        return fail(Problem(stray, INSERTED, "sequence numbers start at 1"))

    prev: Seal | None = None
    rows = _rows(lo, hi)
    pending: tuple[Any, ...] | None = next(rows, None)
    for seal in Seal.objects.order_by("number").iterator(chunk_size=200):
        at[0] = seal.first_seq if isinstance(seal.first_seq, int) else at[0]
        problem = _seal_problem(seal, prev, keys)
        if problem:
            return fail(problem)
        result.seals += 1
        prev = seal
        if seal.last_seq < lo or (hi is not None and seal.first_seq > hi):
            continue
        block: list[tuple[Any, ...]] = []
        while pending is not None and pending[0] <= seal.last_seq:
            block.append(pending)
            pending = next(rows, None)
        if seal.number in purged:
            result.purged_blocks += 1
            if block:
                return fail(
                    Problem(block[0][0], INSERTED, f"block of seal {seal.number} was purged, yet holds records")
                )
            continue
        if lo > seal.first_seq or (hi is not None and hi < seal.last_seq):
            # Partly inside the range: read the whole block.
            block = block_rows(seal.first_seq, seal.last_seq)
        problem = _block_problem(seal, block)
        if problem:
            return fail(problem)
        result.records += len(block)
        if progress is not None:
            progress(seal.last_seq)
    result.last_seal = prev.number if prev else 0
    sealed_to = prev.last_seq if prev else 0

    # After the last seal: records up to the last number given out, without holes where numbers
    # are only given to records that commit (SQLite).
    counter = numbers_given_out()
    gap_free = numbers_gap_free()
    expected = max(sealed_to + 1, lo)
    while pending is not None:
        seq = at[0] = pending[0]
        if seq > counter:
            return fail(Problem(seq, INSERTED, f"beyond the last number given out ({counter})"))
        if seq != expected:
            if gap_free:
                return fail(Problem(expected, DELETED, f"record {expected} is missing (next present is {seq})"))
            result.unsettled += seq - expected
        found = integrity.tagged_record_problem(pending, tagging_key)
        if found is not None:
            return fail(Problem(seq, *found))
        result.records += 1
        result.unsealed += 1
        expected = seq + 1
        pending = next(rows, None)
    result.last_seq = expected - 1
    if hi is None and expected - 1 < counter:
        if gap_free:
            return fail(
                Problem(expected, TAIL_CUT, f"records {expected}..{counter} were given numbers but are missing")
            )
        result.unsettled += counter - expected + 1

    if use_anchor:
        problem = _anchor_problem(prev, keys)
        if problem:
            return fail(problem)
    return result


def _anchor_problem(last: Seal | None, keys: dict[str, bytes]) -> Problem | None:
    anchor = anchor_read()
    if anchor is None:
        return None
    message = integrity.seal_message(
        number=anchor["number"],
        first_seq=anchor["first_seq"],
        last_seq=anchor["last_seq"],
        record_count=anchor["record_count"],
        merkle_root=anchor["merkle_root"],
        leaf_digests=anchor.get("leaf_digests", ""),
        prev_seal_hash=anchor["prev_seal_hash"],
        sealed_at=anchor["sealed_at"],
        key_id=anchor["key_id"],
    )
    public = keys.get(anchor.get("key_id", ""), b"")
    if not public or not integrity.signature_valid(public, message, anchor.get("signature", "")):
        return Problem(
            anchor.get("first_seq", 0), FORGED_SEAL, "the seal kept outside the database is not validly signed"
        )
    if last is None or last.number < anchor["number"]:
        first_missing = (last.last_seq + 1) if last else 1
        return Problem(
            first_missing,
            TAIL_CUT,
            f"the last seal kept outside the database is seal {anchor['number']} (records up to "
            f"{anchor['last_seq']}); the database ends at seal {last.number if last else 0}",
        )
    same = Seal.objects.filter(number=anchor["number"], seal_hash=anchor["seal_hash"]).exists()
    if not same:
        return Problem(anchor["first_seq"], FORGED_SEAL, f"seal {anchor['number']} differs from the copy kept outside")
    return None


def record_proof(entry: LogEntry) -> dict[str, Any] | None:
    """The seal covering a record and the Merkle path from the record to the seal's root."""
    seal = Seal.objects.filter(first_seq__lte=entry.seq, last_seq__gte=entry.seq).first()
    if seal is None:
        return None
    hashes = list(
        LogEntry.objects.filter(seq__gte=seal.first_seq, seq__lte=seal.last_seq)
        .order_by("seq")
        .values_list("record_hash", flat=True)
    )
    index = entry.seq - seal.first_seq
    if len(hashes) != seal.record_count:
        return {"seal": seal, "proof": [], "valid": False}
    proof = integrity.merkle_proof(hashes, index)
    recomputed = _computed(block_rows(entry.seq, entry.seq)[0])
    valid = recomputed == entry.record_hash and integrity.merkle_proof_check(recomputed, proof, seal.merkle_root)
    return {"seal": seal, "proof": proof, "valid": valid}


def verification_record(
    *, seq_from: int | None = None, seq_to: int | None = None, progress: Callable[[int], None] | None = None
) -> VerifyResult:
    """Verify, then append the result as an ``audit.verified`` record (read by the integrity banner)."""
    result = log_verify(seq_from=seq_from, seq_to=seq_to, progress=progress)
    try:
        audit_event(
            event_type="audit.verified",
            actor_username="system:audit_verify",
            payload={
                "ok": result.ok,
                "first_bad_seq": result.problem.seq if result.problem else None,
                "problem": str(result.problem) if result.problem else None,
                "records": result.records,
                "seals": result.seals,
            },
        )
    except (DatabaseError, NumberSquattedError) as exc:
        # The result stands; that it could not be recorded is said next to it.
        result.notes.append(f"the result could not be recorded in the log: {exc}")
    return result

"""Canonical forms, hashes, Merkle trees and Ed25519 signatures of the audit log.

Nothing here touches the database or Django, so the same rules can be restated, line for line, by
the standalone export verifier (``audit/standalone/verify_export.py``), which an auditor runs
outside the platform. A test checks that both give the same hashes.

Record hash
    SHA-256 of ``RECORD_PREFIX`` followed by the UTF-8 JSON array (no spaces, non-ASCII kept) of
    the ``RECORD_FIELDS`` values in that order: ``created_at`` as ``YYYY-MM-DDTHH:MM:SS.ffffffZ``
    (UTC), ``source_port`` as an integer or null, every other value as the text stored. The
    sequence number is *not* part of the record hash: a record's position is fixed by the seal,
    which is how verification tells a moved record from a changed one.

Seal
    Records ``first_seq..last_seq`` form a block. Its Merkle root is built over the record hashes
    in sequence order (leaf ``H(0x00 || record_hash)``, node ``H(0x01 || left || right)``, an odd
    node is carried up unchanged). The seal also keeps the first 16 hex digits of every record
    hash (``leaf_digests``) so that a bad record can be pinpointed. The seal message is the JSON
    array of ``SEAL_PREFIX``-tagged fields below, including the hash of the previous seal, so
    seals form a chain; the message is signed with Ed25519.

Record tag
    HMAC-SHA256, with a key the database does not hold (``GENAI_AUDIT_TAG_KEY``), of ``TAG_PREFIX``
    followed by the sequence number in decimal, a newline, and the record hash. The record hash is
    the SHA-256 of the record's canonical fields, so the tag covers them and the record's place:
    a record changed, moved to another number, or made up without the key fails it. The writer
    tags every record as it appends it; the sealer and ``audit_verify`` check the tags of records
    not yet sealed (once sealed, the seal covers them). Records sealed before tags existed have
    none.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from json.encoder import encode_basestring  # type: ignore[attr-defined]
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

RECORD_PREFIX = b"genai-platform audit record v1\n"
TAG_PREFIX = b"genai-platform audit record tag v1\n"
SEAL_PREFIX = "genai-platform audit seal v1"
PURGE_PREFIX = "genai-platform audit purge v1"
MANIFEST_PREFIX = b"genai-platform audit export manifest v1\n"
# Hex digits of each record hash kept in the seal to pinpoint a bad record (64 bits).
LEAF_DIGEST_CHARS = 16
GENESIS_SEAL_HASH = "0" * 64

RECORD_FIELDS: tuple[str, ...] = (
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

_PORT = RECORD_FIELDS.index("source_port")
_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_quote = encode_basestring


def time_canonical(value: datetime) -> str:
    """UTC, always with microseconds: the one text form of a record's time."""
    if value.tzinfo is None:
        raise ValueError("audit times must be timezone-aware")
    v = value.astimezone(UTC)
    # The same text as strftime("%Y-%m-%dT%H:%M:%S.%fZ"), at a fraction of its cost (it runs for every record).
    return f"{v.year}-{v.month:02d}-{v.day:02d}T{v.hour:02d}:{v.minute:02d}:{v.second:02d}.{v.microsecond:06d}Z"


def payload_canonical(payload: dict[str, Any]) -> str:
    """JSON text with sorted keys and no spaces; NaN and infinities are refused."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"), sort_keys=True, allow_nan=False)


def record_hash(values: Sequence[Any]) -> str:
    """Hash of one record given its ``RECORD_FIELDS`` values in order (``created_at`` as canonical text).

    Builds the same text as ``json.dumps(values, ensure_ascii=False, separators=(",", ":"))`` (a
    test checks it) without the encoder's per-call overhead: verification runs this per record.
    Every value is text except ``source_port`` (an integer or None).
    """
    port = values[_PORT]
    text = ",".join(
        (
            ",".join(map(_quote, values[:_PORT])),
            "null" if port is None else str(int(port)),
            ",".join(map(_quote, values[_PORT + 1 :])),
        )
    )
    return hashlib.sha256(RECORD_PREFIX + b"[" + text.encode() + b"]").hexdigest()


def record_hash_or_none(values: Sequence[Any]) -> str | None:
    """``record_hash``, or None for values no writer produces (NULL in a text column, a port that is not a number)."""
    try:
        return record_hash(values)
    except (TypeError, ValueError, AttributeError):
        return None


def record_tag(key: bytes, seq: int, record_hash_hex: str) -> str:
    """The keyed tag of the record at ``seq`` with this record hash (hex)."""
    return hmac.digest(key, TAG_PREFIX + b"%d\n%s" % (seq, record_hash_hex.encode()), "sha256").hex()


# Kinds of problem, shared by the sealer and the verifier.
CHANGED = "changed"
DELETED = "deleted"
INSERTED = "inserted"
REORDERED = "reordered"
FORGED = "forged"
UNREADABLE = "unreadable"

# How far from its place the sealer and verifier look for the number a moved record's tag was made for.
_MOVED_SEARCH = 64


def tagged_record_problem(row: Sequence[Any], key: bytes) -> tuple[str, str] | None:
    """What is wrong with a record not yet sealed, or None.

    ``row`` is ``(seq, *RECORD_FIELDS values with created_at as canonical text, record_hash,
    record_tag)``. Values no writer produces (NULLs, wrong types) are reported, not raised.
    """
    seq, values, stored, tag = row[0], row[1:-2], row[-2], row[-1]
    for name, value in zip(RECORD_FIELDS, values, strict=True):
        if value is None and name != "source_port":
            return CHANGED, f"its {name} is empty (NULL), which no writer stores"
    computed = record_hash_or_none(values)
    if computed is None:
        return CHANGED, "a column holds a value of the wrong type"
    if not isinstance(stored, str) or computed != stored:
        return CHANGED, "its columns no longer match its stored record hash"
    if not isinstance(tag, str) or not tag:
        return FORGED, "it has no tag, so it was not written by the platform"
    if hmac.compare_digest(tag, record_tag(key, seq, stored)):
        return None
    for other in range(max(1, seq - _MOVED_SEARCH), seq + _MOVED_SEARCH + 1):
        if other != seq and hmac.compare_digest(tag, record_tag(key, other, stored)):
            return REORDERED, f"it was written as record {other} (records were swapped or moved)"
    return FORGED, "its tag does not verify (changed with its hash rewritten, or made up without the key)"


def _leaf(digest: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + digest).digest()


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def merkle_root(record_hashes: Iterable[str]) -> str:
    level = [_leaf(bytes.fromhex(h)) for h in record_hashes]
    if not level:
        raise ValueError("a block holds at least one record")
    while len(level) > 1:
        nxt = [_node(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0].hex()


def merkle_proof(record_hashes: Sequence[str], index: int) -> list[tuple[str, str]]:
    """Siblings from the leaf up: ``("L", hash)`` when the sibling is on the left, ``("R", hash)`` otherwise."""
    level = [_leaf(bytes.fromhex(h)) for h in record_hashes]
    proof: list[tuple[str, str]] = []
    while len(level) > 1:
        sibling = index ^ 1
        if sibling < len(level):
            proof.append(("L" if sibling < index else "R", level[sibling].hex()))
        nxt = [_node(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
        index //= 2
    return proof


def merkle_proof_check(record_hash_hex: str, proof: Sequence[Sequence[str]], root: str) -> bool:
    node = _leaf(bytes.fromhex(record_hash_hex))
    for side, sibling in proof:
        node = _node(bytes.fromhex(sibling), node) if side == "L" else _node(node, bytes.fromhex(sibling))
    return node.hex() == root


def leaf_digests(record_hashes: Iterable[str]) -> str:
    return "".join(h[:LEAF_DIGEST_CHARS] for h in record_hashes)


def seal_message(
    *,
    number: int,
    first_seq: int,
    last_seq: int,
    record_count: int,
    merkle_root: str,
    leaf_digests: str,
    prev_seal_hash: str,
    sealed_at: str,
    key_id: str,
) -> bytes:
    leaves_sha256 = hashlib.sha256(leaf_digests.encode()).hexdigest()
    fields = [
        SEAL_PREFIX,
        number,
        first_seq,
        last_seq,
        record_count,
        merkle_root,
        leaves_sha256,
        prev_seal_hash,
        sealed_at,
        key_id,
    ]
    return _dumps(fields).encode()


def purge_message(*, blocks: list[list[int]], cutoff: str) -> bytes:
    return _dumps([PURGE_PREFIX, blocks, cutoff]).encode()


def manifest_message(manifest: dict[str, Any]) -> bytes:
    body = {k: v for k, v in manifest.items() if k != "signature"}
    return MANIFEST_PREFIX + json.dumps(body, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()


# ------------------------------------------------------------------------------
# Keys
# ------------------------------------------------------------------------------
def private_key_from_seed(seed_b64: str) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(base64.b64decode(seed_b64))


def public_key_raw(private_key: Ed25519PrivateKey) -> bytes:
    return private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def key_id(public_raw: bytes) -> str:
    return hashlib.sha256(public_raw).hexdigest()[:16]


def sign(private_key: Ed25519PrivateKey, message: bytes) -> str:
    return base64.b64encode(private_key.sign(message)).decode()


def signature_valid(public_raw: bytes, message: bytes, signature_b64: str) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(public_raw).verify(base64.b64decode(signature_b64), message)
    except (InvalidSignature, ValueError):
        return False
    return True

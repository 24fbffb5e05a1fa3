"""The platform's signature in ReservedCode1.

ReservedCode1 is five colon-separated parts, all in the label character set::

    v1:<key id>:<signed at>:<content digest>:<signature>

- key id: the first 16 hex digits of SHA-256 over the raw 32-byte Ed25519 public key;
- signed at: UTC time as ``YYYYMMDDTHHMMSSZ``;
- content digest: SHA-256 of the content with the label removed, base64url without padding;
- signature: Ed25519 over the message below, base64url without padding.

The signed message binds the producer's fields (Label, ContentProducer, ProduceID), the carrier
kind, the key id, the time and the content digest, one per line after a fixed first line. Label
values cannot hold a line break, so the message is unambiguous. The propagation fields are left
out on purpose: a platform that passes the file on may rewrite them (Labeling Measures Art 6)
without breaking the producer's signature. Keeping the digest in clear lets a verifier tell a
forged label (signature fails) from a genuine label on changed content (digest differs).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from functools import lru_cache

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.conf import settings
from django.utils.translation import gettext as _

from generation.labels.aigc import AigcLabel, LabelFormatError

SCHEME = "v1"
MESSAGE_HEADER = "GB45438-AIGC-ReservedCode1-v1"
TIME_FORMAT = "%Y%m%dT%H%M%SZ"
_KEY_ID_RE = re.compile(r"[0-9a-f]{16}")
_TIME_RE = re.compile(r"\d{8}T\d{6}Z")
_B64URL_RE = re.compile(r"[A-Za-z0-9_-]+")


class Carrier(StrEnum):
    """What the label is embedded in; signed so a label cannot move to another kind of file."""

    PNG = "png"
    JPEG = "jpg"
    MARKDOWN = "md"
    JSON = "json"


@dataclass(frozen=True)
class Seal:
    """ReservedCode1, parsed."""

    key_id: str
    signed_at: datetime
    content_digest: bytes
    signature: bytes

    def encode(self) -> str:
        return ":".join(
            (
                SCHEME,
                self.key_id,
                self.signed_at.strftime(TIME_FORMAT),
                _b64url(self.content_digest),
                _b64url(self.signature),
            )
        )


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64url_decode(text: str, size: int) -> bytes:
    if not _B64URL_RE.fullmatch(text):
        raise LabelFormatError(_("ReservedCode1 is not in the platform's signature format."))
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise LabelFormatError(_("ReservedCode1 is not in the platform's signature format.")) from None
    if len(raw) != size:
        raise LabelFormatError(_("ReservedCode1 is not in the platform's signature format."))
    return raw


@lru_cache(maxsize=4)
def _private_key(seed_b64: str) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(base64.b64decode(seed_b64, validate=True))


def private_key() -> Ed25519PrivateKey:
    """The label signing key from ``settings.LABEL_SIGNING_KEY`` (base64 of a 32-byte seed)."""
    return _private_key(settings.LABEL_SIGNING_KEY)


def public_key() -> Ed25519PublicKey:
    return private_key().public_key()


def public_key_raw(key: Ed25519PublicKey | None = None) -> bytes:
    return (key or public_key()).public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def public_key_pem(key: Ed25519PublicKey | None = None) -> str:
    return (
        (key or public_key())
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode("ascii")
    )


def key_id(key: Ed25519PublicKey | None = None) -> str:
    return hashlib.sha256(public_key_raw(key)).hexdigest()[:16]


def public_keys() -> dict[str, Ed25519PublicKey]:
    """Keys a label may be signed with, by key id (today only the current one)."""
    key = public_key()
    return {key_id(key): key}


def public_key_jwks() -> dict[str, object]:
    """The verification keys as a JSON Web Key Set (RFC 8037 OKP keys)."""
    return {
        "keys": [
            {
                "kty": "OKP",
                "crv": "Ed25519",
                "use": "sig",
                "alg": "EdDSA",
                "kid": kid,
                "x": _b64url(public_key_raw(key)),
            }
            for kid, key in public_keys().items()
        ]
    }


def content_digest(content: bytes) -> bytes:
    return hashlib.sha256(content).digest()


def signed_message(
    *, label: str, producer: str, produce_id: str, carrier: Carrier, key_id: str, signed_at: datetime, digest: bytes
) -> bytes:
    lines = (
        MESSAGE_HEADER,
        label,
        producer,
        produce_id,
        carrier.value,
        key_id,
        signed_at.strftime(TIME_FORMAT),
        digest.hex(),
    )
    return "\n".join(lines).encode("ascii")


def seal_make(
    *, label: str, producer: str, produce_id: str, carrier: Carrier, content: bytes, signed_at: datetime | None = None
) -> str:
    """ReservedCode1 for these producer fields and this content (the content without its label)."""
    when = (signed_at or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    key = private_key()
    kid = key_id(key.public_key())
    digest = content_digest(content)
    message = signed_message(
        label=label,
        producer=producer,
        produce_id=produce_id,
        carrier=carrier,
        key_id=kid,
        signed_at=when,
        digest=digest,
    )
    return Seal(key_id=kid, signed_at=when, content_digest=digest, signature=key.sign(message)).encode()


def seal_parse(value: str) -> Seal:
    parts = value.split(":")
    if len(parts) != 5 or parts[0] != SCHEME:
        raise LabelFormatError(_("ReservedCode1 is not in the platform's signature format."))
    kid, when, digest, signature = parts[1:]
    if not _KEY_ID_RE.fullmatch(kid) or not _TIME_RE.fullmatch(when):
        raise LabelFormatError(_("ReservedCode1 is not in the platform's signature format."))
    try:
        signed_at = datetime.strptime(when, TIME_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        raise LabelFormatError(_("ReservedCode1 is not in the platform's signature format.")) from None
    return Seal(
        key_id=kid,
        signed_at=signed_at,
        content_digest=_b64url_decode(digest, 32),
        signature=_b64url_decode(signature, 64),
    )


def seal_verify(label: AigcLabel, carrier: Carrier) -> Seal:
    """Check ReservedCode1 against the label's producer fields; return the seal or raise.

    Raises LabelFormatError when ReservedCode1 is missing or malformed, and InvalidSignature when
    it names an unknown key or does not verify. The content digest is not compared here.
    """
    seal = seal_parse(label.ReservedCode1)
    key = public_keys().get(seal.key_id)
    if key is None:
        raise InvalidSignature(f"unknown key id {seal.key_id}")
    message = signed_message(
        label=label.Label,
        producer=label.ContentProducer,
        produce_id=label.ProduceID,
        carrier=carrier,
        key_id=seal.key_id,
        signed_at=seal.signed_at,
        digest=seal.content_digest,
    )
    key.verify(seal.signature, message)
    return seal

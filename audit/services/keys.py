"""The keys: the signing key of seals, the HMAC key of record tags, the public keys that verify seals, and the keyed
hash of pseudonymised exports."""

from __future__ import annotations

import base64
import functools
import hmac
from typing import Any

from django.conf import settings

from audit import integrity


@functools.lru_cache(maxsize=4)
def _decoded(text: str) -> bytes:
    return base64.b64decode(text)


def tag_key() -> bytes:
    """The HMAC key of record tags (``GENAI_AUDIT_TAG_KEY``); the database never holds it."""
    return _decoded(settings.AUDIT_TAG_KEY)


def tag_key_id() -> str:
    """A name of the tag key that does not reveal it: backups record it, so that a restore can tell whether the
    configured key verifies the tags of the records not yet sealed."""
    return hmac.new(tag_key(), b"genai-platform audit tag key id", "sha256").hexdigest()[:16]


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


def public_key_b64() -> str:
    return base64.b64encode(public_key_raw()).decode()

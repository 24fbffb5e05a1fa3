"""Secrets for the settings module: from the environment in production, generated in development.

In development (``DJANGO_DEBUG`` true) a missing secret is generated once and kept in a file
under the data directory, so restarts keep sessions and signatures valid. In production a
missing or malformed secret stops the process with one line naming the variable; a traceback
would bury the one fact the operator needs.
"""

from __future__ import annotations

import base64
import binascii
import os
import secrets as _secrets
import sys
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

# Key files are created readable by their owner only.
_KEY_FILE_MODE = 0o600


def fail(message: str) -> NoReturn:
    sys.stderr.write(f"genai-platform: configuration error: {message}\n")
    raise SystemExit(2)


def _read_or_create(path: Path, make: Callable[[], str]) -> str:
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = make()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, _KEY_FILE_MODE)
    with os.fdopen(fd, "w") as f:
        f.write(value + "\n")
    return value


def secret_key(*, debug: bool, data_dir: Path) -> str:
    value = os.environ.get("DJANGO_SECRET_KEY", "")
    if value:
        if not debug and (len(value) < 50 or len(set(value)) < 5):
            fail("DJANGO_SECRET_KEY must be at least 50 characters with at least 5 distinct ones.")
        return value
    if not debug:
        fail("DJANGO_SECRET_KEY is not set; production mode (DJANGO_DEBUG=false) needs it.")
    return _read_or_create(data_dir / "keys" / "django-secret-key", lambda: _secrets.token_urlsafe(50))


def signing_key_new() -> str:
    """A new Ed25519 private key as base64 of its 32-byte seed (the form the settings take)."""
    return base64.b64encode(_secrets.token_bytes(32)).decode()


def _key_b64(name: str, *, debug: bool, data_dir: Path) -> tuple[str, bytes]:
    """The base64 value of ``name`` from the environment, made once under ``data_dir/keys`` in development."""
    value = os.environ.get(name, "")
    if not value:
        if not debug:
            fail(
                f"{name} is not set; production mode (DJANGO_DEBUG=false) needs it "
                "(make one with: python manage.py signing_key_new)."
            )
        value = _read_or_create(data_dir / "keys" / name.lower(), signing_key_new)
    try:
        return value, base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        fail(f"{name} is not valid base64.")


def signing_key(name: str, *, debug: bool, data_dir: Path) -> str:
    """An Ed25519 private key seed, base64-encoded, validated here so a typo fails at start-up."""
    value, raw = _key_b64(name, debug=debug, data_dir=data_dir)
    if len(raw) != 32:
        fail(f"{name} must encode exactly 32 bytes (an Ed25519 seed); it encodes {len(raw)}.")
    return value


def hmac_key(name: str, *, debug: bool, data_dir: Path) -> str:
    """A key for HMAC-SHA256, base64 of at least 32 random bytes (``signing_key_new`` makes one)."""
    value, raw = _key_b64(name, debug=debug, data_dir=data_dir)
    if len(raw) < 32:
        fail(f"{name} must encode at least 32 bytes; it encodes {len(raw)}.")
    return value


def required_list(name: str) -> list[str]:
    value = os.environ.get(name, "")
    items = [item.strip() for item in value.split(",") if item.strip()]
    if not items:
        fail(f"{name} is not set; production mode (DJANGO_DEBUG=false) needs it (comma-separated).")
    return items

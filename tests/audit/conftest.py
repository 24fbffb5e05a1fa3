"""Fixtures of the audit tests: a private anchor file, and raw SQL with the triggers switched off."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.db import connection


@pytest.fixture(autouse=True)
def _anchor_in_tmp(settings, tmp_path):  # type: ignore[no-untyped-def]
    settings.AUDIT_ANCHOR_PATH = str(tmp_path / "anchor" / "last-seal.json")


# PostgreSQL has no counter table: its numbers come from a sequence.
_TABLES = ("audit_logentry", "audit_seal")


@contextmanager
def triggers_off() -> Iterator[None]:
    """Switch the append-only triggers off, as someone with direct database access could."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            for table in _TABLES:
                cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
            try:
                yield
            finally:
                for table in _TABLES:
                    cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")
        else:
            cursor.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name LIKE 'audit_%'")
            saved = cursor.fetchall()
            for name, _sql in saved:
                cursor.execute(f'DROP TRIGGER "{name}"')
            try:
                yield
            finally:
                for _name, sql in saved:
                    cursor.execute(sql)


@pytest.fixture
def raw_sql() -> Callable[..., Any]:
    """Run SQL with the triggers off: ``raw_sql("UPDATE ... WHERE seq = %s", [5])``."""

    def run(sql: str, params: list[Any] | None = None) -> None:
        with triggers_off(), connection.cursor() as cursor:
            cursor.execute(sql, params)

    return run


@pytest.fixture
def records() -> Callable[..., list[int]]:
    """Write ``n`` simple records and return their sequence numbers."""
    from audit import services

    def make(n: int, **fields: Any) -> list[int]:
        seqs = []
        for i in range(n):
            entry = services.generation_event(
                event_type="generation.requested",
                actor_username=fields.get("actor_username", f"user{i}"),
                actor_id=fields.get("actor_id", str(100 + i)),
                payload={"job_id": f"job-{i}"},
                produce_id=f"P{i:06d}",
            )
            seqs.append(entry.seq)
        return seqs

    return make

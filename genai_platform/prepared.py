"""Statements of the hot paths, prepared once per PostgreSQL connection.

PostgreSQL plans every statement it receives. For the wide reads sent on every API call or job submission (the
token's user and roles, a submission's admission read, with a dozen subqueries and three joins) planning takes
longer than running. ``execute_prepared`` sends such a statement once per connection as ``PREPARE`` and then only
``EXECUTE``, so PostgreSQL keeps its plan; other databases run the statement as it is.

A prepared statement belongs to its server session. Django's persistent connections keep the session, and a
prepared statement outlives a rolled-back transaction. A pooler that hands one client's statements to several
server sessions (PgBouncer in transaction mode) would lose it: the platform connects to PostgreSQL directly or
through a session-mode pool.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any
from weakref import WeakKeyDictionary

from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.signals import connection_created
from django.dispatch import receiver

_PLACEHOLDER = re.compile(r"%s")

# The statements prepared on each connection's current session; emptied when Django opens a new session for it.
_prepared: WeakKeyDictionary[BaseDatabaseWrapper, set[str]] = WeakKeyDictionary()


@receiver(connection_created, dispatch_uid="genai_platform.prepared")
def _session_new(sender: Any, connection: BaseDatabaseWrapper, **kwargs: Any) -> None:
    _prepared[connection] = set()


def _numbered(sql: str) -> str:
    """``sql`` with its ``%s`` placeholders as PostgreSQL's ``$1``, ``$2``, ..."""
    if "%%" in sql:
        raise ValueError("a prepared statement cannot hold a literal % sign")
    count = iter(range(1, sql.count("%s") + 1))
    return _PLACEHOLDER.sub(lambda _match: f"${next(count)}", sql)


def execute_prepared(cursor: Any, name: str, sql: str, params: Sequence[Any]) -> None:
    """Run ``sql`` (``%s`` placeholders) with ``params`` on ``cursor``, a Django cursor; on PostgreSQL as the
    prepared statement ``name``, prepared on first use in the connection's session. ``name`` must stand for one
    statement text for the life of the process."""
    database = cursor.db
    if database.vendor != "postgresql":
        cursor.execute(sql, params)
        return
    names = _prepared.setdefault(database, set())
    if name not in names:
        cursor.execute(f"PREPARE {name} AS {_numbered(sql)}")
        names.add(name)
    if params:
        cursor.execute(f"EXECUTE {name} ({', '.join(['%s'] * len(params))})", params)
    else:
        cursor.execute(f"EXECUTE {name}")

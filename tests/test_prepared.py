"""Hot-path statements are prepared once per PostgreSQL session, prepared again on a new session, and run as they
are elsewhere."""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from genai_platform.prepared import _numbered, execute_prepared

pytestmark = pytest.mark.django_db(transaction=True)

SQL = "SELECT %s + 1, %s"


def _run(value: int) -> tuple[int, str]:
    with connection.cursor() as cursor:
        execute_prepared(cursor, "genai_test_add", SQL, [value, "x"])
        return cursor.fetchone()


def test_placeholders_are_numbered_and_a_literal_percent_is_refused():
    assert _numbered("SELECT %s, (SELECT %s) WHERE a = %s") == "SELECT $1, (SELECT $2) WHERE a = $3"
    with pytest.raises(ValueError, match="literal %"):
        _numbered("SELECT 'a%%' || %s")


def test_a_statement_is_prepared_once_per_session_and_again_after_a_reconnect():
    with CaptureQueriesContext(connection) as first:
        assert _run(1) == (2, "x")
        assert _run(41) == (42, "x")
    sent = [q["sql"] for q in first.captured_queries]
    if connection.vendor != "postgresql":
        assert sent == [SQL % (1, "'x'"), SQL % (41, "'x'")]
        return
    assert [s.split()[0] for s in sent] == ["PREPARE", "EXECUTE", "EXECUTE"]

    with transaction.atomic():
        _run(2)
        transaction.set_rollback(True)
    assert _run(3) == (4, "x")  # a rolled-back transaction keeps the session's statement

    connection.close()
    with CaptureQueriesContext(connection) as again:
        assert _run(5) == (6, "x")
    assert [q["sql"].split()[0] for q in again.captured_queries] == ["PREPARE", "EXECUTE"]

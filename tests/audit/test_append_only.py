"""The database refuses changes to the log; the admin offers none."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connection, transaction

from audit import services
from genai_platform.roles import Role

pytestmark = pytest.mark.django_db


def _refused(sql: str, params: list | None = None) -> str:
    with pytest.raises(DatabaseError) as info, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)
    return str(info.value)


def test_update_and_delete_of_records_are_refused(records):
    (seq,) = records(1)
    assert "append-only" in _refused("UPDATE audit_logentry SET actor_username = 'mallory' WHERE seq = %s", [seq])
    assert "append-only" in _refused("DELETE FROM audit_logentry WHERE seq = %s", [seq])
    assert "append-only" in _refused("DELETE FROM audit_logentry")


def test_seals_cannot_be_changed(records):
    records(2)
    services.seals_make()
    assert "append-only" in _refused("UPDATE audit_seal SET merkle_root = 'x'")
    assert "append-only" in _refused("DELETE FROM audit_seal")


@pytest.mark.skipif(connection.vendor == "postgresql", reason="PostgreSQL numbers records from a sequence, not a row")
def test_the_counter_only_moves_forward_on_sqlite(records):
    records(1)
    assert "only moves forward" in _refused("UPDATE audit_sequence SET last_seq = last_seq - 1")
    assert "only moves forward" in _refused("DELETE FROM audit_sequence")


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite has no TRUNCATE")
def test_truncate_is_refused_on_postgresql(records):
    records(1)
    for table in ("audit_logentry", "audit_seal"):
        assert "append-only" in _refused(f"TRUNCATE {table}")


def test_orm_bulk_changes_are_refused_too(records):
    from audit.models import LogEntry

    (seq,) = records(1)
    with pytest.raises(DatabaseError), transaction.atomic():
        LogEntry.objects.filter(seq=seq).update(actor_username="mallory")
    with pytest.raises(DatabaseError), transaction.atomic():
        LogEntry.objects.filter(seq=seq).delete()
    assert LogEntry.objects.get(seq=seq).actor_username == "user0"


def test_admin_is_read_only_even_for_a_superuser(admin_client, records):
    (seq,) = records(1)
    changelist = admin_client.get("/admin/audit/logentry/")
    assert changelist.status_code == 200
    assert admin_client.get("/admin/audit/logentry/add/").status_code == 403
    detail = admin_client.get(f"/admin/audit/logentry/{seq}/change/")
    assert detail.status_code == 200
    assert b'name="_save"' not in detail.content
    assert admin_client.post(f"/admin/audit/logentry/{seq}/delete/").status_code == 403
    assert admin_client.get("/admin/audit/seal/").status_code == 200
    assert admin_client.get("/admin/audit/seal/add/").status_code == 403


def test_auditor_role_has_no_change_permission(user_with_role):
    auditor = user_with_role(Role.AUDITOR)
    assert auditor.has_perm("audit.view_logentry")
    assert auditor.has_perm("audit.export_logentry")
    assert not auditor.has_perm("audit.change_logentry")
    assert not auditor.has_perm("audit.delete_logentry")
    assert not auditor.has_perm("audit.read_content")

"""Records not yet sealed carry a keyed tag: tampering with them is caught by the sealer and audit_verify.

Each kind of tampering is done by raw SQL with the triggers off, as someone with direct database
access could, within the minute before the sealer runs.
"""

from __future__ import annotations

import base64
import json
import logging
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from audit import integrity, services
from audit.models import LogEntry, Seal
from audit.verification import CHANGED, DELETED, FORGED, INSERTED, REORDERED, UNREADABLE, log_verify
from genai_platform.roles import Role

pytestmark = pytest.mark.django_db

_COLUMNS = ", ".join(("seq", *integrity.RECORD_FIELDS, "record_hash", "record_tag"))
_VALUES = ", ".join((*integrity.RECORD_FIELDS, "record_hash", "record_tag"))


@pytest.fixture
def unsealed(records):
    """Everything earlier sealed; then 5 records written and not sealed. Returns their numbers."""
    services.seals_make()
    return records(5)


def _refused() -> services.SealRefused:
    with pytest.raises(services.SealRefused) as info:
        services.seals_make()
    return info.value


def _verify_fails(seq: int, kind: str) -> str:
    """``audit_verify`` exits non-zero with one sentence naming the record (and no other exception)."""
    with pytest.raises(CommandError) as info:
        call_command("audit_verify", "--no-record")
    message = str(info.value)
    assert info.value.returncode == 1
    assert message.startswith(f"FAILED at seq {seq}: {kind}: "), message
    return message


def _sealed_up_to() -> int:
    last = Seal.objects.order_by("-number").first()
    return last.last_seq if last else 0


def _hash_of(seq: int) -> str:
    entry = LogEntry.objects.get(seq=seq)
    values = [getattr(entry, name) for name in integrity.RECORD_FIELDS]
    values[0] = integrity.time_canonical(values[0])
    return integrity.record_hash(values)


def test_every_record_is_tagged_when_written_and_the_untouched_log_seals_and_verifies(unsealed, settings):
    key = base64.b64decode(settings.AUDIT_TAG_KEY)
    for entry in LogEntry.objects.filter(seq__in=unsealed):
        assert entry.record_tag == integrity.record_tag(key, entry.seq, entry.record_hash)
    assert log_verify().ok
    seals = services.seals_make()
    assert seals and seals[-1].last_seq == unsealed[-1]
    call_command("audit_verify", "--no-record")


def test_a_record_tagged_with_another_key_is_refused(unsealed, settings):
    settings.AUDIT_TAG_KEY = base64.b64encode(b"t" * 32).decode()
    refused = _refused()
    assert (refused.seq, refused.kind) == (unsealed[0], FORGED)


def test_a_rewritten_field_is_caught_even_with_its_hash_recomputed(unsealed, raw_sql):
    target = unsealed[2]
    raw_sql("UPDATE audit_logentry SET actor_username = 'mallory' WHERE seq = %s", [target])
    raw_sql("UPDATE audit_logentry SET record_hash = %s WHERE seq = %s", [_hash_of(target), target])

    refused = _refused()

    assert (refused.seq, refused.kind) == (target, FORGED)
    assert "tag does not verify" in refused.detail
    # The records before it were sealed; it and those after it were not.
    assert _sealed_up_to() == target - 1
    _verify_fails(target, FORGED)


def test_a_rewritten_field_without_its_hash(unsealed, raw_sql):
    target = unsealed[1]
    raw_sql("UPDATE audit_logentry SET payload = '{}' WHERE seq = %s", [target])
    refused = _refused()
    assert (refused.seq, refused.kind) == (target, CHANGED)
    _verify_fails(target, CHANGED)


def test_swapped_records(unsealed, raw_sql):
    a, b = unsealed[1], unsealed[3]
    raw_sql("UPDATE audit_logentry SET seq = -1 WHERE seq = %s", [a])
    raw_sql("UPDATE audit_logentry SET seq = %s WHERE seq = %s", [a, b])
    raw_sql("UPDATE audit_logentry SET seq = %s WHERE seq = -1", [b])

    refused = _refused()

    assert (refused.seq, refused.kind) == (a, REORDERED)
    assert f"written as record {b}" in refused.detail
    assert _sealed_up_to() == a - 1
    _verify_fails(a, REORDERED)


def _sealed_as_missing(seq: int, caplog: pytest.LogCaptureFixture) -> None:
    """PostgreSQL: the sealer cannot tell a deleted record from a rolled-back number; it seals the number as void,
    never as a genuine record, and names it; so does audit_verify, without failing."""
    with caplog.at_level(logging.WARNING, logger="audit.services.sealing"):
        services.seals_make()
    assert f"{seq} had no record when sealed (rolled back or deleted before sealing)" in caplog.text
    assert LogEntry.objects.get(seq=seq).event_type == services.VOID_EVENT_TYPE
    out = StringIO()
    call_command("audit_verify", "--no-record", stdout=out)
    assert f"{seq} missing: rolled back or deleted before sealing" in out.getvalue()


def test_a_deleted_record(unsealed, raw_sql, caplog):
    target = unsealed[2]
    raw_sql("DELETE FROM audit_logentry WHERE seq = %s", [target])
    if connection.vendor == "postgresql":
        _sealed_as_missing(target, caplog)
        assert _sealed_up_to() == unsealed[-1]
        return

    refused = _refused()

    assert (refused.seq, refused.kind) == (target, DELETED)
    _verify_fails(target, DELETED)


def test_the_last_record_deleted(unsealed, raw_sql, caplog):
    target = unsealed[-1]
    raw_sql("DELETE FROM audit_logentry WHERE seq = %s", [target])
    if connection.vendor == "postgresql":
        _sealed_as_missing(target, caplog)
        return
    refused = _refused()
    assert (refused.seq, refused.kind) == (target, DELETED)


def test_a_forged_row_at_the_next_number(unsealed, raw_sql):
    forged = services.numbers_given_out() + 1
    raw_sql(
        f"INSERT INTO audit_logentry ({_COLUMNS}) SELECT %s, {_VALUES} FROM audit_logentry WHERE seq = %s",  # noqa: S608
        [forged, unsealed[0]],
    )

    # The first audit_verify used to crash here: recording its result took the squatted number.
    with pytest.raises(CommandError, match=f"FAILED at seq {forged}: inserted: beyond the last number given out"):
        call_command("audit_verify")
    verified = LogEntry.objects.filter(event_type="audit.verified").order_by("-seq").first()
    assert verified.seq > forged
    assert json.loads(verified.payload)["first_bad_seq"] == forged
    # Now that the numbering has passed it, its tag names it: it carries another record's.
    _verify_fails(forged, REORDERED)
    refused = _refused()
    assert (refused.seq, refused.kind) == (forged, REORDERED)
    assert f"written as record {unsealed[0]}" in refused.detail
    assert _sealed_up_to() == unsealed[-1]  # the genuine records before it were sealed


def test_the_sealer_refuses_a_forged_row_beyond_the_numbers_given_out(unsealed, raw_sql):
    forged = services.numbers_given_out() + 1
    raw_sql(
        f"INSERT INTO audit_logentry ({_COLUMNS}) SELECT %s, {_VALUES} FROM audit_logentry WHERE seq = %s",  # noqa: S608
        [forged, unsealed[0]],
    )
    refused = _refused()
    assert (refused.seq, refused.kind) == (forged, INSERTED)
    assert _sealed_up_to() == unsealed[-1]


def test_a_forged_row_with_a_made_up_tag_and_a_genuine_writer_after_it(unsealed, raw_sql, records):
    forged = services.numbers_given_out() + 1
    raw_sql(
        f"INSERT INTO audit_logentry ({_COLUMNS}) SELECT %s, {_VALUES} FROM audit_logentry WHERE seq = %s",  # noqa: S608
        [forged, unsealed[0]],
    )
    raw_sql("UPDATE audit_logentry SET record_tag = %s WHERE seq = %s", ["ab" * 32, forged])
    (after,) = records(1)  # the writer is not stopped by the squatter: it takes the next free number
    assert after > forged
    refused = _refused()
    assert (refused.seq, refused.kind) == (forged, FORGED)
    _verify_fails(forged, FORGED)


def test_an_untagged_row_is_refused(unsealed, raw_sql):
    raw_sql("UPDATE audit_logentry SET record_tag = '' WHERE seq = %s", [unsealed[0]])
    refused = _refused()
    assert (refused.seq, refused.kind) == (unsealed[0], FORGED)
    assert "no tag" in refused.detail


def test_garbage_in_a_record_is_named_not_raised(unsealed, raw_sql):
    target = unsealed[1]
    if connection.vendor == "postgresql":
        raw_sql("ALTER TABLE audit_logentry ALTER COLUMN event_type DROP NOT NULL")
        raw_sql("ALTER TABLE audit_logentry ALTER COLUMN payload DROP NOT NULL")
        raw_sql("UPDATE audit_logentry SET event_type = NULL, payload = NULL WHERE seq = %s", [target])
    else:
        # SQLite keeps what it is given: text in the integer column, and JSON that does not parse.
        raw_sql("UPDATE audit_logentry SET source_port = 'x', payload = '{not json' WHERE seq = %s", [target])

    refused = _refused()

    assert (refused.seq, refused.kind) == (target, CHANGED)
    _verify_fails(target, CHANGED)


def test_a_garbled_purge_record_does_not_stop_verification(unsealed, raw_sql):
    raw_sql(
        "UPDATE audit_logentry SET event_type = 'audit.purged', payload = '[not json' WHERE seq = %s", [unsealed[0]]
    )
    _verify_fails(unsealed[0], CHANGED)


def test_a_garbled_seal_is_named_not_raised(unsealed, raw_sql):
    services.seals_make()
    last = Seal.objects.order_by("-number").first()
    if connection.vendor == "postgresql":
        raw_sql("ALTER TABLE audit_seal ALTER COLUMN leaf_digests DROP NOT NULL")
        raw_sql("UPDATE audit_seal SET leaf_digests = NULL WHERE number = %s", [last.number])
    else:
        raw_sql("UPDATE audit_seal SET record_count = 'many' WHERE number = %s", [last.number])
    result = log_verify()
    assert not result.ok
    assert result.problem.seq == last.first_seq
    assert result.problem.kind in (UNREADABLE, "forged seal")


def test_the_refusal_is_recorded_once_and_shown_to_auditors(unsealed, raw_sql, client_for):
    target = unsealed[2]
    raw_sql("UPDATE audit_logentry SET decision = 'allowed' WHERE seq = %s", [target])
    raw_sql("UPDATE audit_logentry SET record_hash = %s WHERE seq = %s", [_hash_of(target), target])
    _refused()
    _refused()  # the next run meets the same record: no second record of it

    alerts = LogEntry.objects.filter(event_type="audit.seal_refused", seq__gt=target)
    assert alerts.count() == 1
    assert json.loads(alerts.get().payload) == {
        "seq": target,
        "kind": FORGED,
        "problem": "its tag does not verify (changed with its hash rewritten, or made up without the key)",
    }
    page = client_for(Role.AUDITOR).get("/audit/", HTTP_ACCEPT_LANGUAGE="en")
    assert page.status_code == 200
    assert "Sealing stopped" in page.content.decode()
    assert f"at record {target}: forged" in page.content.decode()


def test_the_seal_task_ends_normally_when_it_meets_a_bad_record(unsealed, raw_sql):
    from audit.tasks import seal_task

    raw_sql("UPDATE audit_logentry SET record_tag = '' WHERE seq = %s", [unsealed[3]])
    assert seal_task() == 1  # one block: the records before the bad one
    assert _sealed_up_to() == unsealed[2]


def test_the_migration_tags_the_records_not_yet_sealed_and_leaves_the_triggers_on(unsealed, raw_sql):
    import importlib

    from django.db import DatabaseError, transaction

    raw_sql("UPDATE audit_logentry SET record_tag = '' WHERE seq >= %s", [unsealed[0]])
    migration = importlib.import_module("audit.migrations.0003_logentry_record_tag")
    with connection.cursor() as cursor:
        migration._tag_unsealed(cursor, connection.vendor)

    assert not LogEntry.objects.filter(seq__in=unsealed, record_tag="").exists()
    assert services.seals_make()[-1].last_seq == unsealed[-1]
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE audit_logentry SET actor_username = 'mallory' WHERE seq = %s", [unsealed[0]])

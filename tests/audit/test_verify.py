"""Each kind of tampering, done by raw SQL with the triggers off, is found and pinpointed."""

from __future__ import annotations

import base64
import hashlib
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from audit import integrity, services
from audit.models import LogEntry, Seal
from audit.verification import (
    CHANGED,
    DELETED,
    FORGED_SEAL,
    INSERTED,
    MISSING_SEAL,
    REORDERED,
    TAIL_CUT,
    log_verify,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def sealed(records):
    """12 records sealed in blocks of 5 (the last block partial), anchor written; returns the seqs."""
    # Seal what earlier tests left first (on PostgreSQL: numbers of their rolled-back records), so
    # that the blocks start at the first of the 12.
    services.seals_make()
    seqs = records(12)
    seals = services.seals_make(block_size=5)
    if seals:
        services.anchor_write(seals[-1])
    assert log_verify().ok
    return seqs


def _problem():
    result = log_verify()
    assert not result.ok, result.summary()
    return result.problem


def _hash_of(seq: int) -> str:
    entry = LogEntry.objects.get(seq=seq)
    values = [getattr(entry, name) for name in integrity.RECORD_FIELDS]
    values[0] = integrity.time_canonical(values[0])
    return integrity.record_hash(values)


def test_untouched_log_verifies_and_command_says_ok(sealed, capsys):
    call_command("audit_verify", "--no-record")
    assert capsys.readouterr().out.startswith("OK:")


def test_changed_record(sealed, raw_sql):
    target = sealed[6]
    raw_sql("UPDATE audit_logentry SET actor_username = 'mallory' WHERE seq = %s", [target])
    problem = _problem()
    assert (problem.seq, problem.kind) == (target, CHANGED)


def test_changed_record_with_its_hash_rewritten(sealed, raw_sql):
    target = sealed[6]
    raw_sql("UPDATE audit_logentry SET decision = 'allowed' WHERE seq = %s", [target])
    raw_sql("UPDATE audit_logentry SET record_hash = %s WHERE seq = %s", [_hash_of(target), target])
    problem = _problem()
    assert (problem.seq, problem.kind) == (target, CHANGED)
    assert "rewritten" in problem.detail


def test_changed_unsealed_record(records, raw_sql):
    (seq,) = records(1)
    raw_sql("UPDATE audit_logentry SET payload = '{}' WHERE seq = %s", [seq])
    problem = _problem()
    assert (problem.seq, problem.kind) == (seq, CHANGED)


def test_deleted_record(sealed, raw_sql):
    target = sealed[3]
    raw_sql("DELETE FROM audit_logentry WHERE seq = %s", [target])
    problem = _problem()
    assert (problem.seq, problem.kind) == (target, DELETED)


def test_deleted_record_with_the_rest_renumbered(sealed, raw_sql):
    target = sealed[3]
    raw_sql("DELETE FROM audit_logentry WHERE seq = %s", [target])
    raw_sql("UPDATE audit_logentry SET seq = -seq WHERE seq > %s", [target])
    raw_sql("UPDATE audit_logentry SET seq = -seq - 1 WHERE seq < 0")
    problem = _problem()
    assert (problem.seq, problem.kind) == (target, DELETED)


def _named_as_missing(seq: int) -> None:
    """PostgreSQL: a number without a record is named before its seal, sealed as void, and named by every
    verification after it, in words that do not pass a deletion off as a rollback."""
    before = log_verify()
    assert before.ok, before.summary()
    assert seq in before.unsettled_numbers
    assert f"{seq}" in before.summary() and "rolled back or deleted" in before.summary()

    services.seals_make()
    void = LogEntry.objects.get(seq=seq)
    assert void.event_type == services.VOID_EVENT_TYPE
    assert json.loads(void.payload) == {"reason": "no_record_when_sealed"}
    after = log_verify()
    assert after.ok and after.unsettled == 0, after.summary()
    assert after.missing_numbers[-1] == seq
    assert f"{seq} missing: rolled back or deleted before sealing" in after.summary()


def test_deleted_unsealed_record(sealed, records, raw_sql):
    new = records(3)
    raw_sql("DELETE FROM audit_logentry WHERE seq = %s", [new[1]])
    if connection.vendor == "postgresql":
        # A rolled-back transaction leaves the same hole: named as missing, never sealed as a genuine record.
        _named_as_missing(new[1])
        return
    problem = _problem()
    assert (problem.seq, problem.kind) == (new[1], DELETED)


def test_inserted_record(sealed, raw_sql):
    target = sealed[7]
    raw_sql("UPDATE audit_logentry SET seq = -seq WHERE seq >= %s", [target])
    raw_sql("UPDATE audit_logentry SET seq = -seq + 1 WHERE seq < 0")
    columns = ", ".join(("seq", *integrity.RECORD_FIELDS, "record_hash"))
    raw_sql(
        f"INSERT INTO audit_logentry ({columns}) SELECT %s, {columns.split(', ', 1)[1]} FROM audit_logentry "  # noqa: S608
        "WHERE seq = %s",
        [target, sealed[0]],
    )
    problem = _problem()
    assert (problem.seq, problem.kind) == (target, INSERTED)


def test_inserted_after_the_last_number_given_out(sealed, raw_sql):
    columns = ", ".join(("seq", *integrity.RECORD_FIELDS, "record_hash"))
    raw_sql(
        f"INSERT INTO audit_logentry ({columns}) SELECT %s, {columns.split(', ', 1)[1]} FROM audit_logentry "  # noqa: S608
        "WHERE seq = %s",
        [sealed[-1] + 1, sealed[0]],
    )
    problem = _problem()
    assert (problem.seq, problem.kind) == (sealed[-1] + 1, INSERTED)


def test_reordered_records(sealed, raw_sql):
    a, b = sealed[0], sealed[2]
    raw_sql("UPDATE audit_logentry SET seq = -1 WHERE seq = %s", [a])
    raw_sql("UPDATE audit_logentry SET seq = %s WHERE seq = %s", [a, b])
    raw_sql("UPDATE audit_logentry SET seq = %s WHERE seq = -1", [b])
    problem = _problem()
    assert (problem.seq, problem.kind) == (a, REORDERED)
    assert str(b) in problem.detail


def test_forged_seal(sealed, raw_sql):
    seal = Seal.objects.filter(first_seq__lte=sealed[6], last_seq__gte=sealed[6]).get()
    raw_sql("UPDATE audit_seal SET merkle_root = %s WHERE number = %s", ["0" * 64, seal.number])
    problem = _problem()
    assert (problem.seq, problem.kind) == (seal.first_seq, FORGED_SEAL)


def test_seal_resigned_with_another_key(sealed, raw_sql):
    seal = Seal.objects.filter(first_seq__lte=sealed[6], last_seq__gte=sealed[6]).get()
    other = integrity.private_key_from_seed(base64.b64encode(b"k" * 32).decode())
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
    raw_sql("UPDATE audit_seal SET signature = %s WHERE number = %s", [integrity.sign(other, message), seal.number])
    problem = _problem()
    assert (problem.seq, problem.kind) == (seal.first_seq, FORGED_SEAL)
    assert "signature" in problem.detail


def test_missing_seal(sealed, raw_sql):
    seal = Seal.objects.filter(first_seq__lte=sealed[6], last_seq__gte=sealed[6]).get()
    raw_sql("DELETE FROM audit_seal WHERE number = %s", [seal.number])
    problem = _problem()
    assert (problem.seq, problem.kind) == (seal.first_seq, MISSING_SEAL)


def test_tail_cut_is_found_against_the_seal_kept_outside(sealed, raw_sql):
    last = Seal.objects.order_by("-number").first()
    raw_sql("DELETE FROM audit_logentry WHERE seq >= %s", [last.first_seq])
    raw_sql("DELETE FROM audit_seal WHERE number = %s", [last.number])
    if connection.vendor == "postgresql":
        raw_sql("SELECT setval('audit_logentry_seq', %s)", [last.first_seq - 1])
    else:
        raw_sql("UPDATE audit_sequence SET last_seq = %s", [last.first_seq - 1])
    problem = _problem()
    assert (problem.seq, problem.kind) == (last.first_seq, TAIL_CUT)
    assert f"seal {last.number}" in problem.detail


def test_unsealed_tail_cut_is_found_against_the_counter(sealed, records, raw_sql):
    new = records(2)
    raw_sql("DELETE FROM audit_logentry WHERE seq >= %s", [new[0]])
    if connection.vendor == "postgresql":
        _named_as_missing(new[1])
        assert LogEntry.objects.get(seq=new[0]).event_type == services.VOID_EVENT_TYPE
        return
    problem = _problem()
    assert (problem.seq, problem.kind) == (new[0], TAIL_CUT)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite gives numbers only to records that commit")
def test_unsealed_numbers_without_records_are_counted_not_failed_on_postgresql(sealed, records, raw_sql):
    new = records(3)
    raw_sql("DELETE FROM audit_logentry WHERE seq = %s", [new[1]])
    result = log_verify()
    assert result.ok, result.summary()
    assert (result.unsealed, result.unsettled, result.unsettled_numbers) == (2, 1, [new[1]])
    assert f"numbers {new[1]} after seal" in result.summary()


def test_command_reports_the_first_bad_record_and_records_the_run(sealed, raw_sql):
    raw_sql("DELETE FROM audit_logentry WHERE seq = %s", [sealed[8]])
    with pytest.raises(CommandError, match=f"FAILED at seq {sealed[8]}: deleted"):
        call_command("audit_verify")
    last = LogEntry.objects.filter(event_type="audit.verified").order_by("-seq").first()
    assert json.loads(last.payload)["first_bad_seq"] == sealed[8]


def test_range_limits_what_is_checked(sealed, raw_sql):
    raw_sql("UPDATE audit_logentry SET actor_username = 'mallory' WHERE seq = %s", [sealed[11]])
    first_block = Seal.objects.filter(first_seq__lte=sealed[0], last_seq__gte=sealed[0]).get()
    assert log_verify(seq_from=sealed[0], seq_to=first_block.last_seq).ok
    result = log_verify(seq_from=sealed[0])
    assert result.problem.seq == sealed[11]


def test_record_hash_is_reproducible_from_its_definition(records):
    (seq,) = records(1)
    entry = LogEntry.objects.get(seq=seq)
    text = json.dumps(
        [integrity.time_canonical(entry.created_at)] + [getattr(entry, name) for name in integrity.RECORD_FIELDS[1:]],
        ensure_ascii=False,
        separators=(",", ":"),
    )
    assert hashlib.sha256(integrity.RECORD_PREFIX + text.encode()).hexdigest() == entry.record_hash


def test_a_record_written_on_a_whole_second_verifies(records):
    from datetime import UTC, datetime
    from unittest import mock

    with mock.patch("django.utils.timezone.now", return_value=datetime(2026, 3, 1, 8, 0, 0, tzinfo=UTC)):
        (seq,) = records(1)
    services.seals_make()
    assert LogEntry.objects.get(seq=seq).created_at.microsecond == 0
    assert log_verify().ok


def test_seals_of_an_earlier_key_verify_once_that_key_is_listed(sealed, settings, client):
    old_public = services.public_key_b64()
    settings.AUDIT_SIGNING_KEY = base64.b64encode(b"n" * 32).decode()  # the key is changed
    problem = _problem()
    assert problem.kind == FORGED_SEAL and "not ours" in problem.detail
    settings.AUDIT_PREVIOUS_PUBLIC_KEYS = [old_public]
    services.seals_make()  # later seals are signed with the new key, chained to the old ones
    assert log_verify().ok
    keys = client.get("/audit/public-key").json()
    assert keys["public_key"] != old_public
    assert [k["public_key"] for k in keys["previous_keys"]] == [old_public]


def test_a_backups_anchor_never_moves_the_anchor_here_backwards(sealed, records):
    # given the anchor of a backup made now, and a log that went on: more records, sealed, the anchor moved on
    older = services.anchor_read()
    records(3)
    services.anchor_write(services.seals_make()[-1])
    newer = services.anchor_read()
    assert older is not None and newer is not None and newer["number"] > older["number"]

    # when the backup's anchor is put back, it is refused and the newer one kept
    kept = services.anchor_restore(older)

    # then the anchor here still names the newer seal
    assert kept == newer and services.anchor_read() == newer

    # and on a host with no anchor, the backup's is installed
    services.anchor_path().unlink()
    assert services.anchor_restore(older) is None and services.anchor_read() == older

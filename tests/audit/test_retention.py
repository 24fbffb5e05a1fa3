"""Retention: only expired, sealed blocks and expired content go; holds keep theirs; seals still verify."""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
from django.core.management import call_command
from django.utils import timezone

from audit import services
from audit.models import Content, LogEntry, Seal
from audit.verification import DELETED, log_verify

pytestmark = pytest.mark.django_db


def _write(n: int, *, days_ago: int, actor: str) -> list[int]:
    when = timezone.now() - timedelta(days=days_ago)
    seqs = []
    with mock.patch("django.utils.timezone.now", return_value=when):
        for i in range(n):
            entry = services.generation_event(
                event_type="generation.requested",
                actor_id=f"{actor}-{i}",
                actor_username=actor,
                input_content=f"{actor} prompt {i}",
                payload={"job_id": f"{actor}{i}"},
            )
            seqs.append(entry.seq)
    return seqs


@pytest.fixture
def aged():
    services.seals_make()  # anything pending from before starts its own block
    old = _write(6, days_ago=200, actor="old")
    services.seals_make(block_size=3)
    new = _write(2, days_ago=0, actor="new")
    services.seals_make(block_size=3)
    unsealed_old = _write(1, days_ago=300, actor="unsealed")
    return old, new, unsealed_old


def test_purge_deletes_only_expired_sealed_blocks_and_content(aged):
    old, new, unsealed_old = aged
    counts = services.retention_purge()
    assert counts["records_deleted"] == 6 and counts["blocks_deleted"] == 2
    assert not LogEntry.objects.filter(seq__in=old).exists()
    assert LogEntry.objects.filter(seq__in=new + unsealed_old).count() == 3
    assert not Content.objects.filter(body__startswith=b"old").exists()
    assert Content.objects.filter(body=b"new prompt 0").exists()
    # the seals stay, and the log still verifies, purged blocks being skipped
    assert Seal.objects.filter(first_seq=old[0]).exists()
    result = log_verify()
    assert result.ok, result.summary()
    assert result.purged_blocks >= 2
    # a second purge finds nothing more
    assert services.retention_purge()["records_deleted"] == 0


def test_retention_follows_the_setting(aged, settings):
    old, _new, _unsealed = aged
    settings.AUDIT_RETENTION_DAYS = 250
    assert services.retention_purge()["records_deleted"] == 0
    assert LogEntry.objects.filter(seq__in=old).count() == 6
    settings.AUDIT_RETENTION_DAYS = 183
    with pytest.raises(services.RetentionError, match="six calendar months"):
        services.retention_purge()
    settings.AUDIT_RETENTION_DAYS = 190
    assert services.retention_purge()["records_deleted"] == 6


def test_legal_hold_keeps_a_block_and_its_content_until_released(aged):
    old, _new, _unsealed = aged
    hold = services.legal_hold_set(reason="case 42", actor_id="old-4")
    counts = services.retention_purge()
    assert counts["records_deleted"] == 3  # the other block only
    assert LogEntry.objects.filter(seq__in=old[3:]).count() == 3
    assert Content.objects.filter(body=b"old prompt 4").exists()
    assert log_verify().ok
    services.legal_hold_release(hold=hold)
    assert services.retention_purge()["records_deleted"] == 3
    assert log_verify().ok
    events = list(
        LogEntry.objects.filter(event_type__startswith="audit.legal_hold").values_list("event_type", flat=True)
    )
    assert events[-2:] == ["audit.legal_hold_set", "audit.legal_hold_released"]


def test_a_deletion_dressed_as_a_purge_is_still_found(aged, raw_sql):
    old, _new, _unsealed = aged
    services.audit_event(
        event_type="audit.purged",
        actor_username="mallory",
        payload={"blocks": [[1, old[0], old[2]]], "cutoff": "2030-01-01T00:00:00.000000Z", "signature": "AAAA"},
    )
    raw_sql("DELETE FROM audit_logentry WHERE seq BETWEEN %s AND %s", [old[0], old[2]])
    problem = log_verify().problem
    assert problem is not None and (problem.seq, problem.kind) == (old[0], DELETED)


def test_hold_and_purge_commands(aged, capsys):
    call_command("audit_hold", "set", "--reason", "inquiry", "--subject-kind", "generation.job", "--subject-id", "9")
    call_command("audit_hold", "list")
    assert "inquiry" in capsys.readouterr().out
    call_command("audit_purge")
    assert "blocks" in capsys.readouterr().out

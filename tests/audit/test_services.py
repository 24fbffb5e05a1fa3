"""The writer: what a record holds, what it refuses, and a gap-free sequence."""

from __future__ import annotations

import hashlib

import pytest
from django.db import connection, transaction
from django.test import RequestFactory

from audit import integrity, services
from audit.catalogue import EVENT_TYPES, PayloadError
from audit.models import Content, LogEntry

pytestmark = pytest.mark.django_db


def test_record_holds_request_actor_subject_and_fields(user_with_role):
    user = user_with_role(None, "alice")
    request = RequestFactory().post("/api/v1/jobs/", REMOTE_ADDR="203.0.113.9", HTTP_USER_AGENT="curl/8")
    request.META["REMOTE_PORT"] = "51234"
    request.user = user

    entry = services.generation_event(
        event_type="generation.refused",
        request=request,
        subject=user,
        filing_number="Beijing-XX-202601",
        model_record="digits-gan v1",
        checkpoint_sha256="a" * 64,
        keyword_library_version="7",
        decision="refused",
        risk_codes=["A.1.2", "A.1.1", "A.1.2"],
        produce_id="P-1",
        input_content="画一个……",
        payload={"reason": "prompt hit the keyword library", "stage": "input_moderation"},
    )

    stored = LogEntry.objects.get(seq=entry.seq)
    assert (stored.actor_id, stored.actor_username) == (str(user.pk), "alice")
    assert (stored.source_ip, stored.source_port, stored.user_agent) == ("203.0.113.9", 51234, "curl/8")
    assert (stored.subject_kind, stored.subject_id, stored.subject_repr) == (
        "genai_platform.user",
        str(user.pk),
        "alice",
    )
    assert stored.risk_codes == "A.1.1;A.1.2"
    assert stored.decision == "refused"
    assert stored.payload_data == {"reason": "prompt hit the keyword library", "stage": "input_moderation"}
    assert stored.created_at.tzinfo is not None
    # the content is kept apart, referenced by its digest
    digest = hashlib.sha256("画一个……".encode()).hexdigest()
    assert stored.input_sha256 == digest
    assert Content.objects.get(digest=digest).as_text() == "画一个……"
    # the stored hash is the hash of the stored columns
    values = [getattr(stored, name) for name in integrity.RECORD_FIELDS]
    values[0] = integrity.time_canonical(values[0])
    assert integrity.record_hash(values) == stored.record_hash


def test_system_event_without_request_or_actor():
    entry = services.audit_event(
        event_type="audit.legal_hold_released", actor_username="system:test", payload={"hold_id": 3}
    )
    stored = LogEntry.objects.get(seq=entry.seq)
    assert (stored.actor_id, stored.actor_username, stored.source_ip, stored.source_port) == (
        "",
        "system:test",
        "",
        None,
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"event_type": "generation.exploded", "payload": {}}, "unknown audit event type"),
        ({"event_type": "generation.requested", "payload": {}}, "'job_id' is required"),
        ({"event_type": "generation.requested", "payload": {"job_id": 5}}, "must be a string"),
        ({"event_type": "generation.failed", "payload": {"job_id": "1", "reason": "x", "latency_ms": True}}, "boolean"),
        ({"event_type": "auth.logout", "decision": "maybe"}, "decision must be one of"),
        ({"event_type": "auth.logout", "risk_codes": ["A 1; DROP"]}, "risk codes"),
        ({"event_type": "auth.logout", "input_sha256": "xyz"}, "64 hex digits"),
        ({"event_type": "auth.logout", "source_port": "http"}, "source_port"),
        ({"event_type": "auth.logout", "payload": {"x": float("nan")}}, "not plain JSON"),
    ],
)
def test_bad_events_are_refused_with_a_clear_message(kwargs, message):
    with pytest.raises(PayloadError, match=message):
        services.event_record(**kwargs)
    assert not LogEntry.objects.filter(event_type=kwargs["event_type"]).exists()


def test_unknown_field_and_wrong_family_are_refused():
    with pytest.raises(TypeError, match="unknown field"):
        services.event_record(event_type="auth.logout", colour="red")
    with pytest.raises(PayloadError, match="writes filing"):
        services.filing_event(event_type="auth.logout")


def test_catalogue_covers_the_types_other_apps_write():
    for name in (
        "generation.requested",
        "generation.refused",
        "generation.succeeded",
        "generation.output_blocked",
        "generation.failed",
        "filing.changed",
        "filing.exported",
        "audit.exported",
        "auth.login",
        "auth.login_failed",
        "user.suspended",
        "label.verified",
        "complaint.received",
    ):
        event = EVENT_TYPES[name]
        assert event.description
        assert all(key.description for key in event.payload.values())


def test_rolled_back_record_goes_with_the_caller_and_leaves_no_gap_once_sealed(records):
    (before,) = records(1)
    with pytest.raises(RuntimeError), transaction.atomic():
        records(2, actor_username="rolled-back")
        raise RuntimeError("caller failed")
    (after,) = records(1)
    assert not LogEntry.objects.filter(actor_username="rolled-back").exists()
    if connection.vendor == "postgresql":
        # The sequence gave the two numbers away; the sealer records them as void.
        assert after == before + 3
        services.seals_make()
        voids = LogEntry.objects.filter(seq__gt=before, seq__lt=after).values_list("event_type", flat=True)
        assert list(voids) == [services.VOID_EVENT_TYPE] * 2
    else:
        assert after == before + 1  # SQLite: the counter gave its numbers back
    seqs = list(LogEntry.objects.filter(seq__gte=before).order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(before, after + 1))


def test_seals_cover_records_in_order_and_are_signed(records):
    seqs = records(7)
    seals = services.seals_make(block_size=3)
    covered = [s for s in seals if s.last_seq >= seqs[0]]
    assert covered[-1].last_seq == seqs[-1]
    for prev, seal in zip(seals, seals[1:], strict=False):
        assert seal.prev_seal_hash == prev.seal_hash
        assert seal.first_seq == prev.last_seq + 1
    assert all(s.record_count <= 3 for s in seals)
    public = services.public_key_raw()
    seal = covered[-1]
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
    assert integrity.signature_valid(public, message, seal.signature)
    assert not integrity.signature_valid(public, message + b" ", seal.signature)
    assert services.seals_make() == []  # nothing left to seal


def test_merkle_proofs_check_for_every_leaf_and_fail_for_a_wrong_one():
    hashes = [hashlib.sha256(str(i).encode()).hexdigest() for i in range(7)]
    root = integrity.merkle_root(hashes)
    for i, h in enumerate(hashes):
        assert integrity.merkle_proof_check(h, integrity.merkle_proof(hashes, i), root)
    assert not integrity.merkle_proof_check(hashes[0], integrity.merkle_proof(hashes, 1), root)


@pytest.mark.parametrize(
    ("texts", "port"),
    [
        (["2026-01-01T00:00:00.000000Z", "1", 'quote " and \\ backslash', "", "控制\x01\n\t"], 65535),
        (["x" * 3, "\u2028\u2029", "emoji \U0001f600", "", '{"a":[1,2]}'], None),
        (["", "", "", "", ""], 0),
    ],
)
def test_record_hash_text_is_exactly_the_json_definition(texts, port):
    import json

    values: list = [texts[i % len(texts)] for i in range(len(integrity.RECORD_FIELDS))]
    values[integrity.RECORD_FIELDS.index("source_port")] = port
    text = json.dumps(values, ensure_ascii=False, separators=(",", ":"))
    assert integrity.record_hash(values) == hashlib.sha256(integrity.RECORD_PREFIX + text.encode()).hexdigest()

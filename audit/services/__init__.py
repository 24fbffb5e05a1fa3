"""The only writer of the audit log.

Other apps call ``event_record`` (or the family writer for their events, which checks the family
and then calls it). Every call appends one record in the caller's transaction: if the caller
rolls back, the record goes too.

Sequence numbers: on PostgreSQL they come from a sequence, so that concurrent writers commit (and
flush) together; a number without a record (its transaction rolled back, or its record was deleted
before sealing: nothing tells the two apart) is sealed later as an ``audit.number_void`` record, once
no transaction that could hold it is still running, so the sealed chain has no gaps and
``audit_verify`` names the number. On SQLite, which serialises writers anyway, a counter row bumped in the
writer's transaction gives a rolled-back number back. Record the event as the last step of a
transaction, so that the sealer seldom waits for it.

Example::

    from audit import services as audit

    audit.generation_event(
        event_type="generation.refused",
        request=request,                     # actor, source IP and port, user agent
        subject=job,                         # any model instance, or ("kind", "id", "repr")
        filing_number=service.filing_number,
        model_record=str(model_record),
        keyword_library_version=library.version,
        decision="refused",
        risk_codes=["A.1.2"],
        input_content=prompt,                # stored apart, the record keeps its SHA-256
        payload={"reason": "The prompt asks for ...", "stage": "input_moderation"},
    )

By concern: ``writer`` (appending records, each with its keyed tag), ``sealing`` (checking records, signed
blocks and the anchor), ``retention`` (the purge and legal holds), ``keys`` (signing, tagging, verifying and
pseudonym keys), ``rollups`` (the dashboard's counts per quarter hour, folded from the log).
"""

from audit.catalogue import PayloadError
from audit.selectors import numbers_given_out
from audit.services.keys import (
    pseudonym,
    pseudonym_key,
    public_key_b64,
    public_key_raw,
    public_keys,
    purge_signature_valid,
    signing_key,
    tag_key,
    tag_key_id,
)
from audit.services.retention import (
    RETENTION_MINIMUM_DAYS,
    RetentionError,
    legal_hold_release,
    legal_hold_set,
    retention_purge,
)
from audit.services.rollups import rollups_fold, rollups_forget_before
from audit.services.sealing import (
    MISSING_WORDS,
    REFUSED_EVENT_TYPE,
    SealError,
    SealRefused,
    anchor_path,
    anchor_read,
    anchor_restore,
    anchor_write,
    numbers_text,
    record_rows,
    seal_as_dict,
    seal_newest_read,
    seals_make,
)
from audit.services.writer import (
    VOID_EVENT_TYPE,
    NumberSquattedError,
    audit_event,
    auth_event,
    complaint_event,
    event_record,
    filing_event,
    generation_event,
    incident_event,
    label_event,
    numbers_gap_free,
    user_event,
)

__all__ = [
    "MISSING_WORDS",
    "NumberSquattedError",
    "PayloadError",
    "REFUSED_EVENT_TYPE",
    "RETENTION_MINIMUM_DAYS",
    "RetentionError",
    "SealError",
    "SealRefused",
    "VOID_EVENT_TYPE",
    "anchor_path",
    "anchor_read",
    "anchor_restore",
    "anchor_write",
    "audit_event",
    "auth_event",
    "complaint_event",
    "event_record",
    "filing_event",
    "generation_event",
    "incident_event",
    "label_event",
    "legal_hold_release",
    "legal_hold_set",
    "numbers_gap_free",
    "numbers_given_out",
    "numbers_text",
    "pseudonym",
    "pseudonym_key",
    "public_key_b64",
    "public_key_raw",
    "public_keys",
    "purge_signature_valid",
    "record_rows",
    "retention_purge",
    "rollups_fold",
    "rollups_forget_before",
    "seal_as_dict",
    "seal_newest_read",
    "seals_make",
    "signing_key",
    "tag_key",
    "tag_key_id",
    "user_event",
]

"""Event types of the audit log itself: exports, purges, voids, verifications, seal refusals, legal holds."""

from __future__ import annotations

from audit.catalogue.schema import EventType, payload_key

_HOLD_ID = payload_key("integer", "Id of the hold.", required=True)

LOG_EVENTS: tuple[EventType, ...] = (
    # The log itself.
    EventType(
        "audit.exported",
        "An auditor exported records of the log. The export's manifest is referenced here.",
        {
            "export_id": payload_key("string", "Id of the export.", required=True),
            "format": payload_key("string", "csv, jsonl or xlsx.", required=True),
            "filters": payload_key("object", "Filters applied."),
            "row_count": payload_key("integer", "Rows written."),
            "first_seq": payload_key("integer", "First sequence number exported."),
            "last_seq": payload_key("integer", "Last sequence number exported."),
            "file_sha256": payload_key("string", "SHA-256 of the file."),
            "pseudonymised": payload_key("boolean", "Actors replaced by keyed hashes."),
            "content_included": payload_key("boolean", "Prompt and output content included."),
            "status": payload_key("string", "done, aborted or failed."),
        },
    ),
    EventType(
        "audit.purged",
        "Expired, sealed blocks of records were deleted under the retention rule; their seals remain. "
        "The payload is signed with the audit key so a deletion cannot pass for a purge.",
        {
            "blocks": payload_key("array", "[[seal number, first seq, last seq], ...] deleted.", required=True),
            "cutoff": payload_key("string", "ISO time before which records had expired.", required=True),
            "signature": payload_key("string", "Ed25519 signature (base64) of the canonical 'blocks'.", required=True),
            "content_deleted": payload_key("integer", "Content items deleted."),
        },
    ),
    EventType(
        "audit.number_void",
        "Written by the sealer on PostgreSQL for a sequence number that has no record when it is sealed: "
        "its transaction rolled back, or its record was deleted before sealing (the database keeps nothing "
        "that tells the two apart). The sealed chain has no gaps, and audit_verify and the integrity banner "
        "name every such number. Its subject id is the number.",
        {"reason": payload_key("string", "no_record_when_sealed (rolled_back in records sealed before that wording).")},
    ),
    EventType(
        "audit.verified",
        "The whole log (or a range) was verified.",
        {
            "ok": payload_key("boolean", "Result.", required=True),
            "first_bad_seq": payload_key("integer", "First bad sequence number, if any."),
            "problem": payload_key("string", "What was wrong."),
            "records": payload_key("integer", "Records checked."),
            "seals": payload_key("integer", "Seals checked."),
            "missing": payload_key(
                "integer", "Sealed numbers without a record (rolled back or deleted before sealing)."
            ),
            "missing_numbers": payload_key("array", "The latest of those numbers."),
        },
    ),
    EventType(
        "audit.seal_refused",
        "The sealer found a record not yet sealed that fails its check (changed, swapped, missing or "
        "forged), sealed the records before it and stopped there. Written once per problem found; the "
        "integrity banner shows it while the record stays unsealed.",
        {
            "seq": payload_key("integer", "Sequence number of the bad record.", required=True),
            "kind": payload_key("string", "changed, reordered, deleted, inserted or forged.", required=True),
            "problem": payload_key("string", "What is wrong, in a sentence.", required=True),
        },
    ),
    EventType(
        "audit.legal_hold_set",
        "A legal hold was placed: records of the subject are not purged until it is released.",
        {"hold_id": _HOLD_ID, "reason": payload_key("string", "Why.")},
    ),
    EventType(
        "audit.legal_hold_released",
        "A legal hold was released.",
        {"hold_id": _HOLD_ID},
    ),
)

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from audit.models import LogEntry, Seal


class LogEntrySerializer(serializers.ModelSerializer[LogEntry]):
    payload = serializers.SerializerMethodField()
    risk_codes = serializers.SerializerMethodField()

    class Meta:
        model = LogEntry
        fields = (
            "seq",
            "created_at",
            "actor_id",
            "actor_username",
            "source_ip",
            "source_port",
            "user_agent",
            "event_type",
            "subject_kind",
            "subject_id",
            "subject_repr",
            "filing_number",
            "model_record",
            "checkpoint_sha256",
            "keyword_library_version",
            "decision",
            "risk_codes",
            "produce_id",
            "input_sha256",
            "output_sha256",
            "payload",
            "record_hash",
        )

    def get_payload(self, entry: LogEntry) -> dict[str, Any]:
        return entry.payload_data

    def get_risk_codes(self, entry: LogEntry) -> list[str]:
        return entry.risk_code_list


class SealSerializer(serializers.ModelSerializer[Seal]):
    class Meta:
        model = Seal
        fields = (
            "number",
            "first_seq",
            "last_seq",
            "record_count",
            "merkle_root",
            "prev_seal_hash",
            "seal_hash",
            "sealed_at",
            "key_id",
            "signature",
        )

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from audit.integrity import RECORD_FIELDS
from audit.models import LogEntry, Seal


class LogEntrySerializer(serializers.ModelSerializer[LogEntry]):
    payload = serializers.SerializerMethodField()
    risk_codes = serializers.SerializerMethodField()

    class Meta:
        model = LogEntry
        # The columns the record hash covers, framed by the sequence number and the hash itself.
        fields = ("seq", *RECORD_FIELDS, "record_hash")

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

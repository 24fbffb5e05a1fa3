"""Read-only API for auditors: records (with the filters of the pages) and seals.

Only GET: the log cannot be changed through the API either.
"""

from __future__ import annotations

from typing import Any

from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request
from rest_framework.response import Response

from audit.api.serializers import LogEntrySerializer, SealSerializer
from audit.models import LogEntry, Seal
from audit.selectors import FilterError, LogFilters
from audit.verification import record_proof
from genai_platform.roles import HasRole, Role


class NewestFirst(CursorPagination):
    ordering = "-seq"
    page_size = 50


class LogEntryViewSet(viewsets.ReadOnlyModelViewSet[LogEntry]):
    """Records, newest first; filter with the query parameters of the auditor pages."""

    serializer_class = LogEntrySerializer
    permission_classes = [HasRole.of(Role.AUDITOR)]
    pagination_class = NewestFirst
    lookup_field = "seq"

    def get_queryset(self) -> Any:
        if self.action != "list":
            return LogEntry.objects.all()
        try:
            return LogFilters.from_mapping(self.request.query_params).queryset()
        except FilterError as exc:
            raise ValidationError({"filters": [str(exc)]}) from None

    @action(detail=True)
    def proof(self, request: Request, seq: str | None = None) -> Response:
        """The seal covering the record and the Merkle path from its hash to the seal's root."""
        entry = self.get_object()
        proof = record_proof(entry)
        if proof is None:
            return Response({"sealed": False})
        return Response(
            {
                "sealed": True,
                "valid": proof["valid"],
                "record_hash": entry.record_hash,
                "seal": SealSerializer(proof["seal"]).data,
                "path": [{"side": side, "hash": sibling} for side, sibling in proof["proof"]],
            }
        )


class SealViewSet(viewsets.ReadOnlyModelViewSet[Seal]):
    serializer_class = SealSerializer
    permission_classes = [HasRole.of(Role.AUDITOR)]
    queryset = Seal.objects.all()
    lookup_field = "number"

    class pagination_class(CursorPagination):  # noqa: N801
        ordering = "-number"
        page_size = 100

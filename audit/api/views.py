"""Read-only API for auditors: records (with the filters of the pages) and seals.

Only GET: the log cannot be changed through the API either.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema, extend_schema_view, inline_serializer
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request
from rest_framework.response import Response

from audit.api.serializers import LogEntrySerializer, SealSerializer
from audit.models import LogEntry, Seal
from audit.selectors import FilterError, LogFilters
from audit.verification import record_proof
from genai_platform.openapi import error_responses
from genai_platform.roles import HasRole, Role

# Every operation: not signed in, not an auditor (no throttle); a list also a bad filter or cursor.
ERRORS = error_responses(401, 403, e403="Signed in without the auditor role.")
LIST_ERRORS = ERRORS | error_responses(400, 404, e400="A bad filter.", e404="A cursor that is not valid.")
DETAIL_ERRORS = ERRORS | error_responses(404, e404="No such record or seal.")
PROOF = inline_serializer(
    "RecordProof",
    {
        "sealed": serializers.BooleanField(help_text="False until a seal covers the record; then nothing else."),
        "valid": serializers.BooleanField(required=False),
        "record_hash": serializers.CharField(required=False),
        "seal": SealSerializer(required=False),
        "path": inline_serializer(
            "ProofStep",
            {"side": serializers.ChoiceField(choices=["L", "R"]), "hash": serializers.CharField()},
            many=True,
            required=False,
        ),
    },
)


class NewestFirst(CursorPagination):
    ordering = "-seq"
    page_size = 50


@extend_schema_view(
    list=extend_schema(responses={200: LogEntrySerializer(many=True), **LIST_ERRORS}),
    retrieve=extend_schema(responses={200: LogEntrySerializer, **DETAIL_ERRORS}),
    proof=extend_schema(responses={200: PROOF, **DETAIL_ERRORS}),
)
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


@extend_schema_view(
    list=extend_schema(responses={200: SealSerializer(many=True), **LIST_ERRORS}),
    retrieve=extend_schema(responses={200: SealSerializer, **DETAIL_ERRORS}),
)
class SealViewSet(viewsets.ReadOnlyModelViewSet[Seal]):
    serializer_class = SealSerializer
    permission_classes = [HasRole.of(Role.AUDITOR)]
    queryset = Seal.objects.all()
    lookup_field = "number"

    class pagination_class(CursorPagination):  # noqa: N801
        ordering = "-number"
        page_size = 100

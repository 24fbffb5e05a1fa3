"""How the API schema describes errors: the one error body every API operation answers with
(``{"error": {"code", "message", "fields"}}``, written by ``generation.api.errors.exception_handler``, the
project's DRF exception handler), and the usual reasons for each status."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse, inline_serializer
from rest_framework import renderers, serializers

ERROR_BODY = inline_serializer(
    "Error",
    {
        "error": inline_serializer(
            "ErrorDetail",
            {
                "code": serializers.CharField(help_text="A stable machine-readable word."),
                "message": serializers.CharField(help_text="A sentence for people, in the request's language."),
                "fields": serializers.DictField(
                    child=serializers.ListField(child=serializers.CharField()),
                    help_text="Each bad input field with its messages; empty when no field is at fault.",
                ),
            },
        )
    },
)

ERROR_REASONS = {
    400: "Invalid input, per field.",
    401: "Not signed in.",
    403: "Signed in without the role this operation needs.",
    404: "No such object of yours, or no such page of the list.",
    409: "The object is not in a state that allows this.",
    410: "The object was removed.",
    413: "The request body is larger than the limit.",
    415: "The request body is not of a media type this operation reads.",
    422: "The request cannot be processed as sent.",
    429: "Too many requests; see Retry-After.",
    503: "The service cannot take this now.",
}


def error_responses(*codes: int, **reasons: str) -> dict[int, OpenApiResponse]:
    """Responses with the error body for ``codes``; ``reasons`` (``e404="..."``) replace the usual wording."""
    return {
        code: OpenApiResponse(ERROR_BODY, description=reasons.get(f"e{code}", ERROR_REASONS[code])) for code in codes
    }


class BrowsableAPIRenderer(renderers.BrowsableAPIRenderer):
    """DRF's browsable API pages without their inline ``<style>`` of syntax colours, which the platform's
    Content-Security-Policy (only its own static files) refuses, so that a browser logs no violation on them."""

    def get_context(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        context: dict[str, Any] = super().get_context(*args, **kwargs)
        context["code_style"] = None
        return context

"""One shape for every API error: ``{"error": {"code", "message", "fields"}}``.

``code`` is a stable machine-readable word, ``message`` a sentence for people (in the request's
language), ``fields`` maps each bad input field to its messages (empty when no field is at fault). A field
inside an object is named by its path with dots: ``params.opening``.
"""

from __future__ import annotations

import logging
from datetime import datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework import exceptions, status
from rest_framework.response import Response

from genai_platform.hygiene import api_error_body
from genai_platform.middleware import (
    broker_unavailable_message,
    broker_unreachable,
    database_unavailable_message,
    database_unreachable,
)
from generation.services import IdempotencyKeyReused, JobUnavailable

logger = logging.getLogger(__name__)


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"


class Gone(exceptions.APIException):
    status_code = status.HTTP_410_GONE
    default_code = "removed"


error_body = api_error_body


def _messages(detail: Any) -> list[str]:
    if isinstance(detail, list):
        return [str(item) for entry in detail for item in _messages(entry)]
    if isinstance(detail, dict):
        return [f"{key}: {message}" for key, value in detail.items() for message in _messages(value)]
    return [str(detail)]


def _fields(detail: Any) -> dict[str, list[str]]:
    if isinstance(detail, dict):
        return {str(key): _messages(value) for key, value in detail.items()}
    return {}


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF exception handler (settings ``REST_FRAMEWORK["EXCEPTION_HANDLER"]``)."""
    headers: dict[str, str] = {}
    if isinstance(exc, RequestDataTooBig):
        return None  # raised again by DRF: genai_platform.hygiene.RequestSizeMiddleware answers 413
    request = context.get("request")
    if request is not None and database_unreachable(getattr(request, "_request", request), exc):
        headers["Retry-After"] = str(settings.OUTAGE_RETRY_AFTER_SECONDS)
        return Response(
            error_body("database_unavailable", database_unavailable_message()),
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers=headers,
        )
    if broker_unreachable(exc):
        headers["Retry-After"] = str(settings.OUTAGE_RETRY_AFTER_SECONDS)
        return Response(
            error_body("broker_unavailable", broker_unavailable_message()),
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers=headers,
        )
    if isinstance(exc, JobUnavailable):
        if exc.code == "over_quota":
            # The user's own daily limit, not the service being down: 429 until local midnight.
            now = timezone.localtime()
            midnight = datetime.combine(now.date() + timedelta(days=1), time.min, tzinfo=now.tzinfo)
            headers["Retry-After"] = str(max(int((midnight - now).total_seconds()), 1))
            return Response(
                error_body(exc.code, exc.message), status=status.HTTP_429_TOO_MANY_REQUESTS, headers=headers
            )
        if exc.code == "busy":
            # The job queue is full: nothing was stored; the same request may be sent again after the wait.
            headers["Retry-After"] = str(max(exc.retry_after or settings.OUTAGE_RETRY_AFTER_SECONDS, 1))
            return Response(
                error_body(exc.code, exc.message), status=status.HTTP_429_TOO_MANY_REQUESTS, headers=headers
            )
        if exc.code in (
            "user_suspended",
            "not_a_tester",
            "terms_not_accepted",
            "phone_not_verified",
            "guardian_consent_required",
            "minor_night",
        ):
            return Response(error_body(exc.code, exc.message), status=status.HTTP_403_FORBIDDEN)
        if exc.code == "broker_unavailable":  # nothing was stored; the same request may be sent again
            headers["Retry-After"] = str(settings.OUTAGE_RETRY_AFTER_SECONDS)
        return Response(error_body(exc.code, exc.message), status=status.HTTP_503_SERVICE_UNAVAILABLE, headers=headers)
    if isinstance(exc, IdempotencyKeyReused):
        return Response(error_body(exc.code, exc.message), status=status.HTTP_422_UNPROCESSABLE_ENTITY)
    if isinstance(exc, DjangoValidationError):
        fields = {k: [str(m) for m in v] for k, v in exc.message_dict.items()} if hasattr(exc, "error_dict") else {}
        message = _("Some parameters are not valid; see the fields.") if fields else " ".join(exc.messages)
        return Response(error_body("invalid", message, fields), status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    if isinstance(exc, exceptions.APIException):
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = exc.auth_header  # type: ignore[attr-defined]
        if getattr(exc, "wait", None) is not None:
            headers["Retry-After"] = str(max(int(exc.wait + 0.999), 1))  # type: ignore[attr-defined]
        if isinstance(exc, exceptions.ValidationError):
            fields = _fields(exc.detail)
            message = _("Some input is not valid; see the fields.") if fields else " ".join(_messages(exc.detail))
            return Response(error_body("invalid", message, fields), status=exc.status_code, headers=headers)
        detail = exc.detail
        code = detail.code if hasattr(detail, "code") else exc.default_code
        return Response(error_body(str(code), " ".join(_messages(detail))), status=exc.status_code, headers=headers)
    logger.exception("API error", exc_info=exc)
    return Response(
        error_body("server_error", _("Something went wrong on our side. Please try again later.")),
        status=status.HTTP_500_INTERNAL_SERVER_ERROR,
    )

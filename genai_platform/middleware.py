"""Middleware of the kernel: 503s for an unreachable database or task queue, and the Permissions-Policy header.

An unreachable database or task queue answers 503 with a plain message, not a 500 with a traceback. Django writes the
other security headers, django-csp the Content-Security-Policy.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, InterfaceError, OperationalError, connections
from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.template.loader import render_to_string
from django.utils.translation import gettext as _
from kombu.exceptions import OperationalError as KombuOperationalError

from genai_platform.outages import BROKER, DATABASE
from genai_platform.services import database_check

# Errors of a database that cannot be reached or lost the connection (PEP 249), not of a bad query.
DATABASE_UNREACHABLE = (OperationalError, InterfaceError)


def database_unreachable(request: HttpRequest, exception: BaseException) -> bool:
    """Whether ``exception`` means the database cannot be reached; if so the outage is noted (and logged once)."""
    if not isinstance(exception, DATABASE_UNREACHABLE):
        return False
    if database_check().ok:
        # The database answers: the error belongs to this request (a missing table, a lock timeout), and
        # stays a 500 with its traceback in the log rather than passing for an outage.
        return False
    request._database_unreachable = True  # type: ignore[attr-defined]
    DATABASE.failed(exception, "pages and the API answer 503 until it answers")
    return True


def database_unavailable_message() -> str:
    return _("The service is temporarily unavailable. Please try again in a few minutes.")


def broker_unreachable(exception: BaseException) -> bool:
    """Whether ``exception`` means the task queue cannot be reached (a view that starts work on a worker sent a
    task); if so the outage is noted (and logged once)."""
    if not isinstance(exception, KombuOperationalError):
        return False
    BROKER.failed(exception, "actions that start work on a worker answer 503 until it answers")
    return True


def broker_unavailable_message() -> str:
    return _(
        "The task queue cannot be reached, so this was not started. Please try again in a few minutes; if it was "
        "recorded as waiting, it starts once the queue is back or can be started again."
    )


def unavailable_response(request: HttpRequest, *, code: str, message: str) -> HttpResponse:
    """503 with a Retry-After: the API's error body under /api/, otherwise a page that needs no database."""
    response: HttpResponse
    if request.path.startswith(("/api/", "/audit/api/")):
        response = JsonResponse(
            {"error": {"code": code, "message": message, "fields": {}}},
            status=503,
            json_dumps_params={"ensure_ascii": False},
        )
    else:
        # No request context: the context processors would ask the database for the user.
        html = render_to_string("genai_platform/unavailable.html", {"message": message})
        response = HttpResponse(html, status=503)
    response["Retry-After"] = str(settings.OUTAGE_RETRY_AFTER_SECONDS)
    response["Cache-Control"] = "no-store"
    return response


class DatabaseOutageMiddleware:
    """Turns the database's connection errors raised by a view into 503s, and logs the outage once.

    Django closes a broken connection when the request ends and opens a new one on the next request,
    so the pages come back by themselves when the database does.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if DATABASE.down and not getattr(request, "_database_unreachable", False):
            # Only a request that used the database shows that it answers again.
            connection = connections[DEFAULT_DB_ALIAS]
            if connection.connection is not None and not connection.errors_occurred:
                DATABASE.answered()
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if database_unreachable(request, exception):
            return unavailable_response(request, code="database_unavailable", message=database_unavailable_message())
        if broker_unreachable(exception):
            return unavailable_response(request, code="broker_unavailable", message=broker_unavailable_message())
        return None


def permissions_policy_header(policy: dict[str, list[str]]) -> str:
    """``{"camera": [], "fullscreen": ["self"]}`` → ``camera=(), fullscreen=(self)``."""
    return ", ".join(f"{feature}=({' '.join(origins)})" for feature, origins in policy.items())


class PermissionsPolicyMiddleware:
    """Adds ``Permissions-Policy`` from ``settings.PERMISSIONS_POLICY`` to every response that has none."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response
        self.header = permissions_policy_header(settings.PERMISSIONS_POLICY)

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        if self.header and "Permissions-Policy" not in response:
            response["Permissions-Policy"] = self.header
        return response

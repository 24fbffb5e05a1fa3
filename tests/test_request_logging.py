"""What the platform's log says about refused requests: one line each, without a traceback; server errors keep
theirs."""

from __future__ import annotations

import io
import logging
import sys

import pytest

from genai_platform.logging import ClientErrorsWithoutTraceback
from genai_platform.roles import Role


def _record(status: int) -> logging.LogRecord:
    try:
        raise PermissionError("refused")
    except PermissionError:
        exc_info = sys.exc_info()
    record = logging.LogRecord("django.request", logging.WARNING, __file__, 1, "Forbidden: %s", ("/x/",), exc_info)
    record.status_code = status
    return record


def test_a_client_error_loses_its_traceback_and_a_server_error_keeps_it():
    refused, failed = _record(403), _record(500)

    assert ClientErrorsWithoutTraceback().filter(refused) and ClientErrorsWithoutTraceback().filter(failed)

    assert refused.exc_info is None
    assert failed.exc_info is not None


@pytest.mark.django_db
def test_a_refused_page_is_logged_once_in_one_line(client_for):
    root = logging.getLogger()
    console = next(h for h in root.handlers if isinstance(h, logging.StreamHandler) and h.filters)
    stream = io.StringIO()
    previous = console.setStream(stream)
    try:
        response = client_for(Role.END_USER).get("/audit/")
    finally:
        console.setStream(previous)

    assert response.status_code == 403
    lines = [line for line in stream.getvalue().splitlines() if "/audit/" in line]
    assert len(lines) == 1, stream.getvalue()
    assert "Traceback" not in stream.getvalue()
    assert logging.getLogger("django").handlers == [], "no second, unformatted copy from Django's own handler"

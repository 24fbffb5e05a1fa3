"""Only an unreachable database passes for an outage: a database error of one request stays a 500."""

from __future__ import annotations

import pytest
from django.db import OperationalError
from django.test import RequestFactory

from genai_platform.middleware import DatabaseOutageMiddleware
from genai_platform.outages import DATABASE


@pytest.mark.django_db
def test_an_operational_error_while_the_database_answers_is_not_turned_into_a_503() -> None:
    # given a database that answers, and a view that fails with a driver error of its own query
    middleware = DatabaseOutageMiddleware(lambda request: None)  # type: ignore[arg-type, return-value]
    request = RequestFactory().get("/history/")

    # when the middleware sees the error
    response = middleware.process_exception(request, OperationalError("no such table: missing"))

    # then it leaves it to Django's 500 handling, and no outage is recorded
    assert response is None
    assert not DATABASE.down

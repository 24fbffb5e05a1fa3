"""Actions that start work on a worker answer 503 with a reason, not 500, while the task queue cannot be reached.

The job submission has its own check before anything is stored (``tests/test_outage.py``); this covers the other
views that send a task (an operator's heartbeat check) and the API's answer.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from genai_platform.celery import app
from genai_platform.outages import BROKER
from genai_platform.roles import Role


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def broker_unreachable() -> Iterator[None]:
    """The Celery app pointed at a Redis port where nothing listens (a real refused connection), publishing once."""
    names = ("broker_url", "broker_transport", "broker_transport_options", "task_publish_retry")
    saved = {name: app.conf[name] for name in names}
    app.conf.update(
        broker_url=f"redis://127.0.0.1:{_closed_port()}/0",
        broker_transport=None,  # the embedded default names its transport, which would win over the URL's
        broker_transport_options={},
        task_publish_retry=False,
    )
    app._pool = None
    app.amqp._producer_pool = None
    try:
        yield
    finally:
        app.conf.update(saved)
        app._pool = None
        app.amqp._producer_pool = None
        BROKER.answered()


@pytest.mark.django_db
def test_an_operators_heartbeat_check_answers_503_with_the_reason(broker_unreachable, client_for) -> None:  # type: ignore[no-untyped-def]
    client = client_for(Role.OPERATOR)

    response = client.post("/ops/heartbeat/", HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 503
    assert response["Retry-After"]
    assert b"task queue cannot be reached" in response.content
    assert BROKER.down


@pytest.mark.django_db
def test_the_api_answers_a_lost_task_queue_with_503_and_its_error_body(broker_unreachable) -> None:  # type: ignore[no-untyped-def]
    from kombu.exceptions import OperationalError
    from rest_framework.test import APIRequestFactory

    from generation.api.errors import exception_handler

    request = APIRequestFactory().post("/api/v1/jobs/")
    response = exception_handler(OperationalError("Error 111 connecting"), {"request": request})

    assert response is not None and response.status_code == 503
    assert response.data["error"]["code"] == "broker_unavailable"
    assert response["Retry-After"]

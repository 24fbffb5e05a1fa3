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


@pytest.mark.django_db
def test_a_filing_export_started_while_the_task_queue_is_lost_fails_at_once_with_the_reason(
    broker_unreachable, django_capture_on_commit_callbacks, client_for
) -> None:  # type: ignore[no-untyped-def]
    from filing.exports import filing_export_request
    from filing.models import FilingExport
    from tests.generation.factories import service_serving

    service = service_serving()
    with django_capture_on_commit_callbacks(execute=True):
        export = filing_export_request(service=service, actor=None)

    stored = FilingExport.objects.get(pk=export.pk)
    assert stored.status == FilingExport.Status.FAILED  # not left queued with nothing to run it
    assert "task queue could not be reached" in stored.error and "Start it again" in stored.error
    assert stored.finished_at is not None
    assert BROKER.down
    page = client_for(Role.OPERATOR).get(f"/admin/filing/filingexport/{export.pk}/change/", HTTP_ACCEPT_LANGUAGE="en")
    assert "task queue could not be reached" in page.content.decode()


@pytest.mark.django_db
def test_a_training_run_started_while_the_task_queue_is_lost_fails_at_once_with_the_reason(
    broker_unreachable, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    from generation.models import TrainingRun
    from generation.training_runs import training_run_create

    with django_capture_on_commit_callbacks(execute=True):
        run = training_run_create(kind="lm", epochs=1, enqueue=True, origin="terminal")

    stored = TrainingRun.objects.get(pk=run.pk)
    assert (stored.status, stored.phase) == (TrainingRun.Status.FAILED, TrainingRun.Phase.DONE)
    assert "task queue could not be reached" in stored.error
    assert stored.status in TrainingRun.FINISHED  # what `manage.py train --worker` and the watch page wait for

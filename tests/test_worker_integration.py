"""A real worker on the configured broker (Redis in CI, files on the embedded default)."""

import time

import pytest
from django.conf import settings

from genai_platform.models import WorkerHeartbeat
from genai_platform.queues import Queue
from genai_platform.roles import Role

pytestmark = [pytest.mark.smoke, pytest.mark.integration]


def _wait_for(predicate, timeout: float = 30.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def test_task_submitted_from_a_web_request_runs_in_a_real_worker(celery_worker_thread, client_for):  # type: ignore[no-untyped-def]
    # given a worker consuming every queue, and no heartbeat yet
    assert not WorkerHeartbeat.objects.exists()
    client = client_for(Role.OPERATOR)

    # when an operator asks for a heartbeat through the web
    response = client.post("/ops/heartbeat/")

    # then the worker records one per queue, in the database the web process reads
    assert response.status_code == 202
    assert set(response.json()["sent"]) == {q.value for q in Queue}
    assert _wait_for(lambda: WorkerHeartbeat.objects.count() == len(Queue)), (
        f"worker did not answer on broker {settings.CELERY_BROKER_URL.split('@')[-1]}"
    )
    rows = {hb.queue: hb for hb in WorkerHeartbeat.objects.all()}
    assert set(rows) == {q.value for q in Queue}
    assert all(hb.task_id == response.json()["sent"][hb.queue] for hb in rows.values())


def test_broker_in_use_matches_the_environment():
    import os

    expected = os.environ.get("CELERY_BROKER_URL") or os.environ.get("REDIS_URL") or "filesystem://"
    assert settings.CELERY_BROKER_URL == expected


@pytest.mark.parametrize(
    ("task", "queue"),
    [
        ("generation.job_run", "inference"),
        ("generation.training_run", "training"),
        ("generation.assessment_run", "training"),
        ("generation.jobs_sweep", "default"),
        ("audit.seal", "default"),
        ("audit.export_run", "exports"),
        ("filing.export_package", "exports"),
    ],
)
def test_each_task_goes_to_its_queue(task, queue):
    from genai_platform.celery import app

    assert app.amqp.router.route({}, task)["queue"].name == queue

"""The job protocol: submit → queued → claimed → succeeded/failed, idempotent and recoverable."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.utils import timezone

from generation import services
from generation.models import Job, Output
from generation.services import running
from tests.generation.factories import checkpoint_tiny

pytestmark = pytest.mark.django_db


@pytest.fixture
def user(django_user_model):
    return django_user_model.objects.create_user(username="maker", password="pw-123456-long")


@pytest.fixture
def serving():
    return {kind: checkpoint_tiny(kind) for kind in ("gan", "vae", "lm")}


def _wait_finished(job: Job, timeout: float = 60) -> Job:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job.refresh_from_db()
        if job.is_finished:
            return job
        time.sleep(0.1)
    raise AssertionError(f"job still {job.status} after {timeout} s")


@pytest.mark.parametrize(
    ("kind", "params", "field"),
    [
        ("gan", {"count": 2}, "digit"),
        ("gan", {"digit": 10}, "digit"),
        ("gan", {"digit": "seven"}, "digit"),
        ("gan", {"digit": 3, "count": 0}, "count"),
        ("gan", {"digit": 3, "count": 1000}, "count"),
        ("vae", {"interpolate_to_seed": 5, "steps": 1}, "steps"),
        ("lm", {"tune": "测试调", "opening": "春" * 1000}, "opening"),
        ("lm", {"tune": "测试调", "temperature": 9}, "temperature"),
        ("lm", {"tune": "测试调", "colour": "red"}, "colour"),
        ("gan", {"digit": 1, "seed": -4}, "seed"),
    ],
)
def test_bad_parameters_are_refused_with_a_message_per_field(user, serving, kind, params, field):
    with pytest.raises(ValidationError) as excinfo:
        services.job_submit(user=user, kind=kind, params=params)

    assert field in excinfo.value.message_dict
    assert not Job.objects.exists()


def test_no_serving_checkpoint_means_a_clear_unavailable_error(user):
    from django.utils import translation

    with translation.override("en"), pytest.raises(services.JobUnavailable) as excinfo:
        services.job_submit(user=user, kind="gan", params={"digit": 3})

    assert excinfo.value.code == "net_not_ready"
    assert "not available yet" in excinfo.value.message


def test_same_idempotency_key_returns_the_first_job(user, serving):
    first = services.job_submit(user=user, kind="gan", params={"digit": 3}, idempotency_key="k-1")
    again = services.job_submit(user=user, kind="gan", params={"digit": 3}, idempotency_key="k-1")

    assert again.pk == first.pk
    assert Job.objects.count() == 1


def test_job_enqueued_only_after_commit(user, serving, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        job = services.job_submit(user=user, kind="gan", params={"digit": 3})

    assert job.status == Job.Status.QUEUED
    assert len(callbacks) == 1


@pytest.mark.integration
@pytest.mark.smoke
@pytest.mark.parametrize(
    ("kind", "params", "count", "media"),
    [
        ("gan", {"digit": 7, "count": 3}, 3, "image"),
        ("vae", {"count": 2}, 2, "image"),
        ("vae", {"interpolate_to_seed": 9, "steps": 4}, 4, "image"),
        ("lm", {"tune": "测试调", "opening": "春风"}, 1, "text"),
    ],
)
def test_a_real_worker_runs_each_kind_of_job_to_its_outputs(
    celery_worker_thread, user, serving, kind, params, count, media
):
    job = services.job_submit(user=user, kind=kind, params=params | {"seed": 11})

    job = _wait_finished(job)

    assert job.status == Job.Status.SUCCEEDED, job.reason
    outputs = list(job.outputs.order_by("index"))
    assert [o.index for o in outputs] == list(range(count))
    assert {o.media for o in outputs} == {media}
    for output in outputs:
        assert default_storage.exists(output.file.name)
        assert len(output.produce_id) == 32


def test_running_the_same_job_twice_writes_one_set_of_outputs(user, serving):
    job = services.job_submit(user=user, kind="gan", params={"digit": 2, "count": 2})

    first = services.job_run(job_id=job.pk, worker="w1")
    second = services.job_run(job_id=job.pk, worker="w2")

    assert first is not None and first.status == Job.Status.SUCCEEDED
    assert second is None
    assert Output.objects.filter(job=job).count() == 2


def test_same_seed_gives_the_same_outputs(user, serving):
    a = services.job_submit(user=user, kind="lm", params={"tune": "长短句", "opening": "山", "seed": 5})
    b = services.job_submit(user=user, kind="lm", params={"tune": "长短句", "opening": "山", "seed": 5})
    services.job_run(job_id=a.pk)
    services.job_run(job_id=b.pk)

    # The files differ in their labels (ProduceID, signature time); the generated text does not.
    assert a.outputs.get().text == b.outputs.get().text
    assert a.outputs.get().sha256 != b.outputs.get().sha256


def test_a_job_whose_worker_died_is_requeued_by_the_sweeper_and_finished_once(
    user, serving, django_capture_on_commit_callbacks
):
    job = services.job_submit(user=user, kind="vae", params={"count": 2})
    # given a worker that claimed the job and then died (its claim is all that is left)
    claimed = running._claim(job.pk, "dead@host")
    assert claimed is not None
    Job.objects.filter(pk=job.pk).update(started_at=timezone.now() - timedelta(hours=1))

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        counts = services.jobs_sweep()

    job.refresh_from_db()
    assert counts["requeued"] == 1 and len(callbacks) == 1
    assert job.status == Job.Status.QUEUED and job.worker == ""
    finished = services.job_run(job_id=job.pk, worker="alive@host")
    assert finished is not None and finished.status == Job.Status.SUCCEEDED
    assert finished.attempts == 2
    assert Output.objects.filter(job=job).count() == 2


def test_sweeper_gives_up_after_the_attempt_limit(user, serving, settings):
    job = services.job_submit(user=user, kind="gan", params={"digit": 1})
    Job.objects.filter(pk=job.pk).update(
        status=Job.Status.RUNNING, attempts=settings.JOB_MAX_ATTEMPTS, started_at=timezone.now() - timedelta(hours=1)
    )

    assert services.jobs_sweep()["given_up"] == 1

    job.refresh_from_db()
    assert job.status == Job.Status.FAILED
    assert job.reason


def test_sweeper_resends_a_job_whose_message_was_lost(user, serving, django_capture_on_commit_callbacks):
    job = services.job_submit(user=user, kind="gan", params={"digit": 1})
    Job.objects.filter(pk=job.pk).update(enqueued_at=timezone.now() - timedelta(hours=1))

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert services.jobs_sweep()["resent"] == 1

    assert len(callbacks) == 1


def test_a_corrupted_checkpoint_is_refused_and_the_job_fails_with_the_reason(user, serving):
    checkpoint = serving["gan"]
    name = checkpoint.file.name
    with default_storage.open(name, "rb") as f:
        data = bytearray(f.read())
    data[len(data) // 2] ^= 0xFF
    default_storage.delete(name)
    default_storage.save(name, __import__("io").BytesIO(bytes(data)))
    running._NET_CACHE.clear()
    job = services.job_submit(user=user, kind="gan", params={"digit": 4})

    job = services.job_run(job_id=job.pk)

    assert job is not None and job.status == Job.Status.FAILED
    assert "SHA-256" in job.reason
    assert not job.outputs.exists()


def test_cancel_only_while_queued(user, serving):
    job = services.job_submit(user=user, kind="gan", params={"digit": 4})

    assert services.job_cancel(job=job) is True
    assert job.status == Job.Status.CANCELLED
    assert services.job_run(job_id=job.pk) is None
    assert services.job_cancel(job=job) is False


def test_each_step_of_a_job_is_an_audit_event(user, serving, audit_log):
    import hashlib

    job = services.job_submit(user=user, kind="lm", params={"tune": "测试调", "opening": "春风"})
    services.job_run(job_id=job.pk, worker="w")

    requested = audit_log.get(event_type="generation.requested")
    assert requested.actor_username == "maker"
    assert requested.input_sha256 == hashlib.sha256("测试调：春风".encode()).hexdigest()
    assert requested.checkpoint_sha256 == serving["lm"].sha256
    output = job.outputs.get()
    succeeded = audit_log.get(event_type="generation.succeeded")
    assert succeeded.produce_id == output.produce_id
    assert succeeded.output_sha256 == output.sha256


def test_a_refused_request_is_logged_even_though_no_job_is_stored(user, audit_log):

    with pytest.raises(services.JobUnavailable):
        services.job_submit(user=user, kind="vae", params={"count": 1})

    refused = audit_log.get(event_type="generation.refused")
    assert refused.decision == "refused"
    assert not Job.objects.exists()

"""The safety pipeline around a job: policy gate, input and output moderation, labels on every output."""

from __future__ import annotations

import pytest
from django.core.files.storage import default_storage

from filing.models import ModelRecord, Service
from filing.safety.services import keyword_create
from generation import services
from generation.labels import verify_file
from generation.models import Job
from tests.generation.factories import checkpoint_tiny, model_record_for, service_serving

pytestmark = pytest.mark.django_db


@pytest.fixture
def user(django_user_model):
    return django_user_model.objects.create_user(username="maker", password="pw-123456-long")


@pytest.fixture(autouse=True)
def _fresh_moderator():
    # Each test changes the keyword library; start from a moderator that has seen none of it.
    from generation.moderation import default_moderator_set

    default_moderator_set(None)
    yield
    default_moderator_set(None)


@pytest.fixture
def serving():
    return {kind: checkpoint_tiny(kind) for kind in ("gan", "vae", "lm")}


def test_a_model_record_not_approved_does_not_serve(user, serving, audit_log):
    model_record_for("gan", approval=ModelRecord.Approval.PENDING)

    with pytest.raises(services.JobUnavailable) as excinfo:
        services.job_submit(user=user, kind="gan", params={"digit": 1})

    assert excinfo.value.code == "model_not_approved"
    assert audit_log.filter(event_type="generation.refused").count() == 1


def test_a_service_neither_filed_nor_testing_does_not_serve(user, serving):
    service_serving(internal_testing=False, status=Service.Status.SUBMITTED)

    with pytest.raises(services.JobUnavailable) as excinfo:
        services.job_submit(user=user, kind="vae", params={"count": 1})

    assert excinfo.value.code == "service_not_open"


def test_a_filed_service_serves_without_internal_testing(user, serving):
    service_serving(internal_testing=False, status=Service.Status.FILED)

    job = services.job_submit(user=user, kind="vae", params={"count": 1})

    assert job.status == Job.Status.QUEUED


def test_a_blocked_prompt_is_stored_as_refused_and_never_queued(
    user, serving, django_capture_on_commit_callbacks, audit_log
):
    keyword_create(keyword="禁词", risk_code="A.1.1", action="block", actor="test")

    with django_capture_on_commit_callbacks() as callbacks:
        job = services.job_submit(user=user, kind="lm", params={"tune": "慢词", "opening": "春风 禁 词"})

    assert job.status == Job.Status.REFUSED
    assert job.risk_codes == ["A.1.1"]
    assert "禁词" not in job.reason and job.reason
    assert callbacks == []
    event = audit_log.get(event_type="generation.refused")
    assert event.risk_codes == "A.1.1" and event.keyword_library_version


def test_blocked_output_text_is_withheld(user, serving, audit_log):
    # Every character the tiny net can produce is blocked, so whatever it writes is withheld.
    for ch in "春风花月夜山水云天人":
        keyword_create(keyword=ch, risk_code="A.2.1", action="block", actor="test")
    job = services.job_submit(user=user, kind="lm", params={"tune": "测试调"})

    job = services.job_run(job_id=job.pk)

    assert job is not None and job.status == Job.Status.REFUSED
    assert not job.outputs.exists()
    assert job.moderation["output"]["decision"] == "block"
    assert audit_log.filter(event_type="generation.output_blocked", decision="blocked").count() == 1


@pytest.mark.parametrize(
    ("kind", "params"),
    [
        ("gan", {"digit": 5, "count": 2}),
        ("vae", {"count": 2}),
        ("vae", {"interpolate_to_seed": 3, "steps": 3}),
        ("lm", {"tune": "测试调", "opening": "月"}),
    ],
)
def test_every_output_kind_carries_both_labels_and_traces_to_its_record(user, serving, kind, params, audit_log):
    job = services.job_submit(user=user, kind=kind, params=params)
    job = services.job_run(job_id=job.pk)

    assert job is not None and job.status == Job.Status.SUCCEEDED, job.reason
    for output in job.outputs.all():
        with default_storage.open(output.file.name, "rb") as f:
            data = f.read()
        result = verify_file(data, filename=output.file.name)
        assert result.genuine, result.message
        assert result.produce_id == output.produce_id
        assert result.model_code == job.checkpoint.model_record.code
        if output.media == "text":
            assert "本内容由人工智能生成" in output.text
        else:
            assert data[:8] == b"\x89PNG\r\n\x1a\n"
        record = audit_log.get(event_type="generation.succeeded", produce_id=result.produce_id)
        assert record.output_sha256 == output.sha256

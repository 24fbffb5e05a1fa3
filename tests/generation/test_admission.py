"""The admission read (``submission_facts``): one statement that returns the serving checkpoint with its model
record, service and provider as the ORM would build them, and the user's facts, also when nothing serves."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.db.models import Model
from django.test.utils import CaptureQueriesContext

from generation.models import Checkpoint, Job
from generation.services import job_submit
from generation.services.admission import submission_facts
from tests.generation.factories import checkpoint_tiny

pytestmark = pytest.mark.django_db


def _values(instance: Model) -> dict[str, Any]:
    return {f.attname: getattr(instance, f.attname) for f in type(instance)._meta.concrete_fields}


def test_the_serving_checkpoint_comes_with_its_record_service_and_provider(django_user_model):
    user = django_user_model.objects.create_user(username="maker", password="pw-123456-long")
    served = checkpoint_tiny("vae")
    expected = Checkpoint.objects.select_related("model_record__service__provider").get(pk=served.pk)
    submission_facts(user, kind="vae", idempotency_key=None, count_queue=True)  # prepared on PostgreSQL

    with CaptureQueriesContext(connection) as queries:
        checkpoint, facts = submission_facts(user, kind="vae", idempotency_key=None, count_queue=True)
        assert checkpoint is not None
        record = checkpoint.model_record
        assert record is not None and expected.model_record is not None
        service, provider = record.service, record.service.provider
    assert len(queries.captured_queries) == 1

    assert _values(checkpoint) == _values(expected)
    assert isinstance(checkpoint.config, dict) and checkpoint.config == expected.config  # JSON decoded
    assert _values(record) == _values(expected.model_record)
    assert _values(service) == _values(expected.model_record.service)
    assert _values(provider) == _values(expected.model_record.service.provider)
    assert checkpoint._state.adding is False and checkpoint._state.db == "default"
    assert (facts.jobs_today, facts.queued, facts.key_job, facts.suspended) == (0, 0, None, False)


def test_nothing_serving_still_reads_the_users_facts(django_user_model):
    user = django_user_model.objects.create_user(username="maker", password="pw-123456-long")
    checkpoint_tiny("vae")
    job = job_submit(user=user, kind="vae", params={"count": 1}, idempotency_key="key-1")

    checkpoint, facts = submission_facts(user, kind="gan", idempotency_key="key-1", count_queue=True)

    assert checkpoint is None
    assert facts.jobs_today == 1
    assert facts.queued == Job.objects.filter(status=Job.Status.QUEUED).count() == 1
    assert facts.key_job == job.pk


def test_a_checkpoint_without_a_model_record_reads_none_without_a_query(django_user_model):
    user = django_user_model.objects.create_user(username="maker", password="pw-123456-long")
    served = checkpoint_tiny("vae")
    Checkpoint.objects.filter(pk=served.pk).update(model_record=None)

    checkpoint, _facts = submission_facts(user, kind="vae", idempotency_key=None, count_queue=False)

    assert checkpoint is not None and checkpoint.pk == served.pk
    with CaptureQueriesContext(connection) as queries:
        assert checkpoint.model_record is None
    assert not queries.captured_queries
    assert _facts.queued is None

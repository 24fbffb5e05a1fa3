"""The job path's hand-written joined reads (``genai_platform.joined``) build what ``select_related`` would: the
same field values, Python types from the database's converters, related rows cached, a null link as None."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from genai_platform.joined import Joined
from generation.models import Checkpoint, Job
from generation.services import job_submit
from generation.services.running import _claim, _claim_read
from tests.generation.factories import checkpoint_tiny

pytestmark = pytest.mark.django_db


def _values(instance: Any) -> dict[str, Any]:
    return {f.attname: getattr(instance, f.attname) for f in type(instance)._meta.concrete_fields}


def test_the_claim_reads_the_job_with_its_user_and_checkpoint_chain(django_user_model):
    user = django_user_model.objects.create_user(username="maker", password="pw-123456-long")
    checkpoint_tiny("vae")
    submitted = job_submit(user=user, kind="vae", params={"count": 2})
    expected = Job.objects.select_related("checkpoint__model_record__service__provider", "user").get(pk=submitted.pk)

    claimed = _claim(submitted.pk, "w1")
    assert claimed is not None
    with CaptureQueriesContext(connection) as queries:
        assert claimed.checkpoint is not None
        record = claimed.checkpoint.model_record
        assert record is not None
        chain = (claimed.user, claimed.checkpoint, record, record.service, record.service.provider)
    assert not queries.captured_queries
    assert expected.checkpoint is not None and expected.checkpoint.model_record is not None
    wanted = (
        expected.user,
        expected.checkpoint,
        expected.checkpoint.model_record,
        expected.checkpoint.model_record.service,
        expected.checkpoint.model_record.service.provider,
    )
    for got, want in zip(chain, wanted, strict=True):
        assert _values(got) == _values(want)
    assert claimed.params == {"count": 2} and claimed.created_at == expected.created_at  # JSON and time converted
    assert (claimed.status, claimed.attempts, claimed.worker) == (Job.Status.RUNNING, 1, "w1")
    assert _claim(submitted.pk, "w2") is None  # no longer queued


def test_a_null_link_reads_as_none_and_no_row_as_no_instance(django_user_model):
    user = django_user_model.objects.create_user(username="maker", password="pw-123456-long")
    served = checkpoint_tiny("vae")
    job = job_submit(user=user, kind="vae", params={"count": 1})
    Checkpoint.objects.filter(pk=served.pk).update(model_record=None)
    sql, joined = _claim_read()

    with connection.cursor() as cursor:
        cursor.execute(sql, [job.pk])
        read = joined.instances(cursor.fetchone())
    assert isinstance(read, Job) and read.checkpoint is not None
    with CaptureQueriesContext(connection) as queries:
        assert read.checkpoint.model_record is None
    assert not queries.captured_queries
    assert joined.instances([None] * joined.width) is None
    assert _claim(job.pk + 1000, "w") is None


def test_a_path_that_is_not_a_foreign_key_is_refused():
    with pytest.raises(TypeError, match="not a foreign key"):
        Joined(Job, ["outputs"])

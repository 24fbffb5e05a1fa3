"""An end user's text job whose opening is offensive but holds no keyword of the library is refused by the
classifier layer; the job's stored verdict and the audit record name the classifier's version and score."""

from __future__ import annotations

import pytest

from audit.models import LogEntry
from generation.checkpoints import checkpoints_bundled_register
from generation.models import Checkpoint, Job
from generation.moderation import default_moderator_set
from tests.generation.factories import checkpoint_tiny, model_record_for

pytestmark = pytest.mark.django_db

# Written for this test: an insult of the people of a region, nine characters (the first line of the tune).
OFFENSIVE_OPENING = "河南人都是骗子小偷"


@pytest.fixture(autouse=True)
def fresh_moderator():
    default_moderator_set(None)
    yield
    default_moderator_set(None)


def test_an_offensive_opening_without_keywords_is_refused_by_the_classifier(alice):
    checkpoint_tiny("lm")
    checkpoints_bundled_register(model_records={"classifier": model_record_for("classifier")})
    classifier = Checkpoint.objects.get(kind="classifier", is_active=True)

    response = alice.post(
        "/api/v1/jobs/",
        {"kind": "lm", "params": {"tune": "慢词", "opening": OFFENSIVE_OPENING}},
        format="json",
        HTTP_ACCEPT_LANGUAGE="en",
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "refused"
    assert "Regional discrimination (A.2.4)" in body["reason"]
    job = Job.objects.get(public_id=body["id"])
    stored = job.moderation["input"]
    assert stored["layers"] == {"keyword": "allow", "classifier": "block"}
    assert {s["model"] for s in stored["scores"]} == {classifier.sha256[:12]}
    assert all(s["score"] >= s["threshold"] and s["action"] == "block" for s in stored["scores"])
    assert "A.2.4" in job.risk_codes
    record = LogEntry.objects.get(event_type="generation.refused", subject_id=str(job.pk))
    payload = record.payload_data
    assert payload["layers"] == {"keyword": "allow", "classifier": "block"}
    assert payload["scores"] == stored["scores"]
    assert "A.2.4" in record.risk_codes

"""Users whose inputs are refused too often are suspended; operators lift suspensions."""

from __future__ import annotations

from datetime import timedelta

import pytest

from filing.safety.selectors import safety_config
from filing.safety.services import keyword_create, safety_threshold_set
from genai_platform.roles import Role
from generation import services
from generation.models import Job, Suspension
from tests.generation.factories import checkpoint_tiny

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _library():
    from generation.moderation import default_moderator_set

    default_moderator_set(None)
    checkpoint_tiny("lm")
    keyword_create(keyword="禁词", risk_code="A.1.1", action="block", actor="test")
    yield
    default_moderator_set(None)


@pytest.fixture
def user(django_user_model):
    return django_user_model.objects.create_user(username="writer", password="pw-123456-long")


def _bad(user):
    return services.job_submit(user=user, kind="lm", params={"tune": "测试调", "opening": "禁词"})


def _good(user):
    return services.job_submit(user=user, kind="lm", params={"tune": "测试调", "opening": "春风"})


def test_suspended_after_the_configured_refusals_in_a_row(user, audit_log):
    in_a_row = safety_config().suspension_consecutive_refusals
    for _ in range(in_a_row - 1):
        assert _bad(user).status == Job.Status.REFUSED
    assert not Suspension.objects.exists()

    _bad(user)

    suspension = Suspension.objects.get(user=user)
    assert suspension.rule == Suspension.Rule.CONSECUTIVE and suspension.violations == in_a_row
    assert audit_log.filter(event_type="user.suspended", subject_id=str(user.pk)).count() == 1
    with pytest.raises(services.JobUnavailable) as excinfo:
        _good(user)
    assert excinfo.value.code == "user_suspended"


def test_an_accepted_request_breaks_the_run(user):
    in_a_row = safety_config().suspension_consecutive_refusals
    for _ in range(in_a_row - 1):
        _bad(user)
    _good(user)
    _bad(user)

    assert not Suspension.objects.exists()


def test_suspended_after_the_configured_refusals_in_one_day(user):
    safety_threshold_set(key="suspension_consecutive_refusals", value=100, actor="test")
    per_day = safety_config().suspension_refusals_per_day
    yesterday = _bad(user)
    Job.objects.filter(pk=yesterday.pk).update(created_at=yesterday.created_at - timedelta(days=1))
    for _ in range(per_day - 1):
        _bad(user)
        _good(user)
    assert not Suspension.objects.exists()

    _bad(user)

    suspension = Suspension.objects.get(user=user)
    assert suspension.rule == Suspension.Rule.DAILY and suspension.violations == per_day


def test_operator_lifts_a_suspension_in_the_admin(user, client_for, audit_log):
    for _ in range(safety_config().suspension_consecutive_refusals):
        _bad(user)
    suspension = Suspension.objects.get()

    response = client_for(Role.OPERATOR).post(
        "/admin/generation/suspension/", {"action": "lift", "_selected_action": [suspension.pk]}
    )

    assert response.status_code == 302
    suspension.refresh_from_db()
    assert not suspension.is_active and suspension.lifted_by == "operator"
    assert audit_log.filter(event_type="user.reinstated").count() == 1
    assert _good(user).status == Job.Status.QUEUED

"""Users whose inputs are refused too often are suspended; operators lift suspensions."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db.models import F

from filing.safety.selectors import safety_config
from filing.safety.services import keyword_create, safety_threshold_set
from genai_platform.roles import Role
from generation import services
from generation.models import DailyUsage, Job, Suspension
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
    _bad(user)
    DailyUsage.objects.filter(user=user).update(day=F("day") - timedelta(days=1))  # that refusal was yesterday
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


def test_each_refusal_says_how_many_more_would_suspend_and_the_last_one_says_it_did(user):
    in_a_row = safety_config().suspension_consecutive_refusals
    reasons = [_bad(user).reason for _ in range(in_a_row)]

    for n, reason in enumerate(reasons[:-1], start=1):
        assert f"If {in_a_row - n} more of your requests" in reason or f"再有 {in_a_row - n} 次" in reason
    assert "suspended your account" in reasons[-1] or "暂停" in reasons[-1]


def test_deleting_ones_history_resets_neither_the_refusals_nor_the_quota(user, settings):
    from generation.enduser import history_delete
    from generation.usage import quota_state

    settings.GENERATION_DAILY_QUOTA = 5
    in_a_row = safety_config().suspension_consecutive_refusals
    _good(user)
    for _ in range(in_a_row - 1):
        _bad(user)
    before = quota_state(user=user)

    history_delete(user=user)
    _bad(user)

    assert not Job.objects.filter(user=user).exclude(status=Job.Status.REFUSED).exists()
    assert quota_state(user=user).used == before.used == 1
    assert Suspension.objects.filter(user=user, rule=Suspension.Rule.CONSECUTIVE).exists()


def test_a_suspended_user_sees_why_for_how_long_and_how_to_appeal_before_submitting(user, client):
    from generation.access import user_role_add

    user_role_add(user=user, role=Role.END_USER)
    for _ in range(safety_config().suspension_consecutive_refusals):
        _bad(user)
    client.force_login(user)

    page = client.get("/generate/?kind=lm", HTTP_ACCEPT_LANGUAGE="en").content.decode()

    banner = page.split('id="suspended"')[1].split("</div>")[0]
    assert Suspension.objects.get(user=user).reason in banner
    assert "until an operator lifts it" in banner and 'href="/complaints/"' in banner
    assert "disabled" in page.split('type="submit"')[-1].split(">")[0]

"""Closing an account: password, cooling-off period, cancel by signing in, then deletion and anonymisation."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.sessions.models import Session
from django.test import Client
from django.utils import timezone
from rest_framework.authtoken.models import Token

from genai_platform.roles import Role
from generation import services
from generation.accounts import closures_complete
from generation.identity import phone_demo_verified
from generation.minors import age_declare
from generation.models import AccountClosure, AgeDeclaration, Job, PhoneVerification, UserSettings
from tests.generation.factories import checkpoint_tiny

pytestmark = pytest.mark.django_db

PASSWORD = "pw-for-tests-123"


@pytest.fixture
def user(user_with_role):
    checkpoint_tiny("gan")
    user = user_with_role(Role.END_USER, "leaving")
    user.email = "leaving@example.com"
    user.save()
    return user


@pytest.fixture
def client(user):
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(user)
    return client


def _close(client: Client, password: str = PASSWORD, confirm: bool = True):
    data = {"action": "close_account", "close-password": password}
    if confirm:
        data["close-confirm"] = "on"
    return client.post("/account/", data)


def test_the_account_page_says_what_stays_and_until_when(client, settings):
    body = client.get("/account/").content.decode()
    assert "Close my account" in body
    assert f"{settings.AUDIT_RETENTION_DAYS} days" in body
    assert f"{settings.ACCOUNT_CLOSURE_COOLING_OFF_DAYS} days after you ask" in body


def test_a_wrong_password_or_no_tick_closes_nothing(client, user):
    assert "password is not right" in _close(client, password="wrong-one").content.decode()
    assert "Tick the box" in _close(client, confirm=False).content.decode()
    assert not AccountClosure.objects.exists()


def test_asking_signs_out_and_schedules_the_closure(client, user, audit_log, settings):
    Token.objects.create(user=user)
    response = _close(client)

    assert response.status_code == 200
    closure = AccountClosure.objects.get(user=user)
    assert closure.pending
    expected = closure.requested_at + timedelta(days=settings.ACCOUNT_CLOSURE_COOLING_OFF_DAYS)
    assert closure.effective_at == expected
    assert "Your account will be closed on" in response.content.decode()
    assert client.get("/account/").status_code == 302  # signed out
    assert not Token.objects.filter(user=user).exists()
    assert audit_log.filter(event_type="user.closure_requested", subject_id=str(user.pk)).exists()


def test_signing_in_during_the_cooling_off_period_cancels(client, user, audit_log):
    _close(client)
    again = Client(HTTP_ACCEPT_LANGUAGE="en")
    response = again.post("/accounts/login/", {"username": "leaving", "password": PASSWORD}, follow=True)

    assert "Closing your account has been cancelled" in response.content.decode()
    closure = AccountClosure.objects.get(user=user)
    assert closure.cancelled_at is not None and not closure.pending
    assert closures_complete(now=timezone.now() + timedelta(days=365)) == 0
    assert audit_log.filter(event_type="user.closure_cancelled").exists()


def test_after_the_cooling_off_period_personal_data_is_deleted_and_the_audit_log_kept(client, user, audit_log):
    phone_demo_verified(user=user)
    age_declare(user=user, date_of_birth=timezone.localdate().replace(year=1990))
    job = services.job_submit(user=user, kind="gan", params={"digit": 4, "count": 1})
    _close(client)
    requests_logged = audit_log.filter(actor_id=str(user.pk)).count()

    assert closures_complete(now=timezone.now() + timedelta(days=1)) == 0  # still cooling off
    closure = AccountClosure.objects.get(user=user)
    assert closures_complete(now=closure.effective_at + timedelta(seconds=1)) == 1

    user.refresh_from_db()
    assert user.username == f"closed-{user.pk}" and user.email == "" and not user.is_active
    assert not user.has_usable_password()
    assert not Job.objects.filter(pk=job.pk).exists()
    for model in (PhoneVerification, AgeDeclaration, UserSettings):
        assert not model.objects.filter(pk=user.pk).exists()
    assert audit_log.filter(actor_id=str(user.pk)).count() == requests_logged
    assert audit_log.filter(event_type="user.closed", subject_id=str(user.pk)).exists()
    assert not Client().login(username="leaving", password=PASSWORD)
    assert not any(s.get_decoded().get("_auth_user_id") == str(user.pk) for s in Session.objects.all())


def test_signing_in_for_an_api_token_also_cancels(client, user):
    _close(client)
    response = Client().post(
        "/api/v1/auth/token/", {"username": "leaving", "password": PASSWORD}, content_type="application/json"
    )
    assert response.status_code == 200
    assert not AccountClosure.objects.get(user=user).pending

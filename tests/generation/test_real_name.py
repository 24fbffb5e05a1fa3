"""Real-name verification: a one-time code to a mobile number, kept as a hash, expiring, with limited tries."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.test import Client, override_settings
from django.utils import timezone

from audit.catalogue import pi_keys
from filing.selectors import service_public
from genai_platform.roles import Role
from generation import services, sms
from generation.identity import (
    IdentityError,
    phone_code_check,
    phone_code_send,
    phone_demo_verified,
    phone_masked,
    phone_normalise,
    pi_decrypt,
    verification_required,
)
from generation.models import PhoneCode, PhoneVerification
from tests.generation.factories import checkpoint_tiny

pytestmark = pytest.mark.django_db

PHONE = "13912345678"


@pytest.fixture(autouse=True)
def _real_name_on():
    service = service_public()
    service.real_name_required = True
    service.save()
    checkpoint_tiny("gan")
    sms.outbox.clear()


@pytest.fixture
def user(user_with_role):
    return user_with_role(Role.END_USER, "reader")


def _last_code() -> str:
    return re.search(r"\d{6}", sms.outbox[-1].text).group()


def _send(user, phone=PHONE) -> str:
    phone_code_send(user=user, phone_raw=phone)
    assert sms.outbox[-1].phone == phone_normalise(phone)
    return _last_code()


def test_an_unverified_account_reads_but_cannot_generate(user):
    assert verification_required(user)
    with pytest.raises(services.JobUnavailable) as excinfo:
        services.job_submit(user=user, kind="gan", params={"digit": 3, "count": 1})
    assert excinfo.value.code == "phone_not_verified"

    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(user)
    page = client.get("/generate/")
    assert page.status_code == 200
    assert 'id="account-blocked"' in page.content.decode()
    assert client.get("/history/").status_code == 200
    api = client.post("/api/v1/jobs/", {"kind": "gan", "params": {"digit": 3}}, content_type="application/json")
    assert api.status_code == 403 and api.json()["error"]["code"] == "phone_not_verified"


def test_the_right_code_verifies_and_then_the_user_generates(user, audit_log):
    code = _send(user, "+86 139-1234-5678")

    verification = phone_code_check(user=user, code=code)

    assert verification.phone_masked == "139****5678"
    assert not verification_required(user)
    job = services.job_submit(user=user, kind="gan", params={"digit": 3, "count": 1})
    assert job.status == job.Status.QUEUED
    events = list(audit_log.filter(subject_id=str(user.pk)).values_list("event_type", flat=True))
    assert "user.phone_code_sent" in events and "user.phone_verified" in events


def test_the_code_and_the_number_are_not_stored_in_clear(user):
    code = _send(user)
    sent = PhoneCode.objects.get(user=user)
    assert code not in sent.code_hash and len(sent.code_hash) == 64
    assert PHONE not in sent.phone_encrypted and pi_decrypt(sent.phone_encrypted) == PHONE

    phone_code_check(user=user, code=code)
    stored = PhoneVerification.objects.get(user=user)
    assert PHONE not in stored.phone_encrypted and PHONE not in stored.phone_hash
    assert pi_decrypt(stored.phone_encrypted) == PHONE


def test_a_wrong_code_counts_and_the_tries_run_out(user, settings):
    settings.PHONE_CODE_MAX_ATTEMPTS = 3
    code = _send(user)
    wrong = "000000" if code != "000000" else "111111"
    for left in (2, 1):
        with pytest.raises(IdentityError, match=str(left)):
            phone_code_check(user=user, code=wrong)
    with pytest.raises(IdentityError):
        phone_code_check(user=user, code=wrong)
    # Even the right code no longer works: a new one must be sent.
    with pytest.raises(IdentityError):
        phone_code_check(user=user, code=code)
    assert verification_required(user)


def test_a_code_expires(user, settings):
    code = _send(user)
    PhoneCode.objects.filter(user=user).update(expires_at=timezone.now() - timedelta(seconds=1))
    with pytest.raises(IdentityError):
        phone_code_check(user=user, code=code)
    assert verification_required(user)


def test_a_new_code_waits_for_the_resend_interval_and_replaces_the_old(user, settings):
    first = _send(user)
    with pytest.raises(IdentityError):
        phone_code_send(user=user, phone_raw=PHONE)
    PhoneCode.objects.filter(user=user).update(
        sent_at=timezone.now() - timedelta(seconds=settings.PHONE_CODE_RESEND_SECONDS + 1)
    )
    second = _send(user)
    if first != second:
        with pytest.raises(IdentityError):
            phone_code_check(user=user, code=first)
    phone_code_check(user=user, code=second)


def test_one_number_verifies_one_account(user, user_with_role):
    phone_code_check(user=user, code=_send(user))
    other = user_with_role(Role.END_USER, "other")
    with pytest.raises(IdentityError):
        phone_code_send(user=other, phone_raw=PHONE)


@pytest.mark.parametrize("raw", ["12345", "23912345678", "1391234567a", ""])
def test_numbers_that_are_not_mainland_mobiles_are_refused(raw):
    with pytest.raises(IdentityError):
        phone_normalise(raw)


def test_the_rule_is_a_per_service_setting(user):
    service = service_public()
    service.real_name_required = False
    service.save()
    assert not verification_required(user)
    assert services.job_submit(user=user, kind="gan", params={"digit": 1, "count": 1}).status == "queued"


def test_the_web_page_sends_and_checks_a_code(user):
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(user)
    assert client.get("/account/phone/").status_code == 200
    bad = client.post("/account/phone/", {"action": "send", "phone": "12"})
    assert bad.status_code == 400 and "mainland China mobile number" in bad.content.decode()
    sent = client.post("/account/phone/", {"action": "send", "phone": PHONE})
    assert sent.status_code == 302
    wrong = client.post("/account/phone/", {"action": "check", "code": "abcdef"})
    assert wrong.status_code == 400 and "tries left" in wrong.content.decode()
    done = client.post("/account/phone/", {"action": "check", "code": _last_code()}, follow=True)
    assert done.redirect_chain[-1][0] == "/generate/"
    assert "139****5678" in done.content.decode() and PHONE not in done.content.decode()


def test_the_number_is_personal_information_in_the_audit_catalogue():
    assert "phone" in pi_keys("user.phone_verified")
    assert "phone" in pi_keys("user.phone_code_sent")


def test_the_gateway_backend_says_when_it_cannot_send(user):
    with override_settings(SMS_BACKEND="generation.sms.HttpGatewayBackend", SMS_GATEWAY_URL="http://127.0.0.1:9/sms"):
        with pytest.raises(IdentityError, match="could not be sent"):
            phone_code_send(user=user, phone_raw=PHONE)
    assert not PhoneCode.objects.filter(user=user).exists()


def test_demo_data_verification_uses_the_demo_number(user):
    verification = phone_demo_verified(user=user)
    assert verification.phone_masked == phone_masked("13800000000")
    assert not verification_required(user)

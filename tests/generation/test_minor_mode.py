"""Minor mode: date of birth at sign-up, guardian consent, a daily limit, no use at night, stricter checks."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from django.test import Client
from django.utils import timezone

from filing.safety.services import keyword_create
from filing.selectors import service_public
from generation import services
from generation.minors import age_on, guardian_consent_record, minor_mode, minor_refusal
from generation.models import AgeDeclaration
from generation.usage import quota_state
from tests.generation.factories import checkpoint_tiny

pytestmark = pytest.mark.django_db

PASSWORD = "Minor-pass-97531"


def _years_ago(years: int, days: int = 0) -> date:
    today = timezone.localdate()
    return today.replace(year=today.year - years) - timedelta(days=days)


def _minors_allowed(allowed: bool) -> None:
    service = service_public()
    service.minors_allowed = allowed
    service.save()


def _sign_up(client: Client, born: date, name: str = "young"):
    return client.post(
        "/accounts/signup/",
        {
            "username": name,
            "email": f"{name}@example.com",
            "date_of_birth": born.isoformat(),
            "password1": PASSWORD,
            "password2": PASSWORD,
            "accept_terms": "on",
        },
    )


@pytest.fixture(autouse=True)
def _nets():
    from generation.moderation import default_moderator_set

    default_moderator_set(None)
    checkpoint_tiny("gan")
    checkpoint_tiny("lm")
    yield
    default_moderator_set(None)


@pytest.fixture
def minor(django_user_model):
    _minors_allowed(True)
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    assert _sign_up(client, _years_ago(15)).status_code == 302
    return django_user_model.objects.get(username="young")


def _daytime() -> datetime:
    return timezone.localtime().replace(hour=12, minute=0)


def test_a_service_without_minors_refuses_their_sign_up(django_user_model):
    _minors_allowed(False)
    response = _sign_up(Client(HTTP_ACCEPT_LANGUAGE="en"), _years_ago(17, days=-1) + timedelta(days=2))
    assert response.status_code == 200
    assert "not open to users under 18" in response.content.decode()
    assert not django_user_model.objects.filter(username="young").exists()


def test_an_adult_signs_up_without_minor_mode(django_user_model):
    _minors_allowed(False)
    assert _sign_up(Client(), _years_ago(18), name="grown").status_code == 302
    user = django_user_model.objects.get(username="grown")
    assert AgeDeclaration.objects.get(user=user).date_of_birth == _years_ago(18)
    assert minor_mode(user) is None


@pytest.mark.parametrize("born", ["2999-01-01", "not a date", ""])
def test_an_impossible_date_of_birth_is_a_form_error(born, django_user_model):
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    response = client.post("/accounts/signup/", {"username": "x", "email": "x@example.com", "date_of_birth": born})
    assert response.status_code == 200
    assert "errorlist" in response.content.decode()
    assert not django_user_model.objects.filter(username="x").exists()


def test_a_minor_generates_only_after_a_guardian_consents(audit_log, minor):
    assert audit_log.filter(event_type="user.minor_mode", subject_id=str(minor.pk)).exists()
    refusal = minor_refusal(minor, now=_daytime())
    assert refusal is not None and refusal[1] == "guardian_consent_required"

    guardian_consent_record(user=minor, guardian_name="王芳", guardian_phone="13700001111")

    assert minor_refusal(minor, now=_daytime()) is None
    declaration = AgeDeclaration.objects.get(user=minor)
    assert (
        declaration.guardian_contact_masked == "137****1111"
        and "13700001111" not in declaration.guardian_contact_encrypted
    )
    assert audit_log.filter(event_type="user.guardian_consented", subject_id=str(minor.pk)).exists()


def test_the_guardian_page_records_consent(minor):
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(minor)
    page = client.get("/account/guardian/")
    assert "At most 10 generations a day" in page.content.decode()
    missing = client.post("/account/guardian/", {"guardian_name": "王芳", "guardian_phone": "13700001111"})
    assert missing.status_code == 400
    done = client.post(
        "/account/guardian/", {"guardian_name": "王芳", "guardian_phone": "13700001111", "consent": "on"}
    )
    assert done.status_code == 302
    assert minor_mode(minor).guardian_consented


@pytest.mark.parametrize(("hour", "refused"), [(21, False), (22, True), (3, True), (7, True), (8, False)])
def test_no_use_at_night(minor, hour, refused):
    guardian_consent_record(user=minor, guardian_name="王芳", guardian_phone="13700001111")
    moment = timezone.localtime().replace(hour=hour, minute=30 if hour == 7 else 0)
    refusal = minor_refusal(minor, now=moment)
    assert (refusal is not None and refusal[1] == "minor_night") is refused


def test_the_night_hours_are_configurable(minor, settings):
    settings.MINOR_NIGHT_START = "20:00"
    guardian_consent_record(user=minor, guardian_name="王芳", guardian_phone="13700001111")
    assert minor_refusal(minor, now=timezone.localtime().replace(hour=21, minute=0)) is not None


def test_the_minor_daily_limit(minor, settings):
    settings.MINOR_DAILY_JOBS = 2
    settings.MINOR_NIGHT_START = settings.MINOR_NIGHT_END = "00:00"  # no night, whenever the test runs
    guardian_consent_record(user=minor, guardian_name="王芳", guardian_phone="13700001111")
    state = quota_state(user=minor)
    assert state.minor and state.limit == 2
    for _ in range(2):
        services.job_submit(user=minor, kind="gan", params={"digit": 1, "count": 1})
    with pytest.raises(services.JobUnavailable) as excinfo:
        services.job_submit(user=minor, kind="gan", params={"digit": 1, "count": 1})
    assert excinfo.value.code == "over_quota" and "Minor mode" in excinfo.value.message


def test_flagged_content_is_refused_for_a_minor_only(minor, django_user_model, settings):
    settings.MINOR_NIGHT_START = settings.MINOR_NIGHT_END = "00:00"
    guardian_consent_record(user=minor, guardian_name="王芳", guardian_phone="13700001111")
    keyword_create(keyword="提醒词", risk_code="A.1.1", action="flag", actor="test")
    adult = django_user_model.objects.create_user(username="adult", password=PASSWORD)

    assert services.job_submit(user=adult, kind="lm", params={"tune": "测试调", "opening": "提醒词"}).status == "queued"
    assert (
        services.job_submit(user=minor, kind="lm", params={"tune": "测试调", "opening": "提醒词"}).status == "refused"
    )


def test_minor_mode_lifts_on_coming_of_age(minor):
    declaration = AgeDeclaration.objects.get(user=minor)
    assert minor_mode(minor).adult_on == declaration.date_of_birth.replace(year=declaration.date_of_birth.year + 18)
    assert minor_mode(minor, today=minor_mode(minor).adult_on) is None
    assert age_on(date(2008, 2, 29), date(2026, 2, 28)) == 17


def test_the_generate_page_states_the_limits(minor):
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(minor)
    body = client.get("/generate/").content.decode()
    assert 'id="minor-mode"' in body and "At most 10 generations a day" in body and "22:00–08:00" in body

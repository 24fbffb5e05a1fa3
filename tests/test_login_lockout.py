"""Password guessing is limited: the web log-in, the admin log-in and the API token endpoint lock out after a
few failures for an account or a client address; the client address is read only as the trusted proxy
setting says, so a client cannot choose it with X-Forwarded-For."""

from __future__ import annotations

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.core.cache import cache
from django.test import Client, RequestFactory, override_settings
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from genai_platform.client_address import client_address
from genai_platform.roles import Role

pytestmark = [pytest.mark.django_db, pytest.mark.smoke]

PASSWORD = "pw-for-tests-123"
LIMIT = 3
LOCKOUT = override_settings(AXES_FAILURE_LIMIT=LIMIT, AXES_COOLOFF_TIME=timedelta(minutes=15))


@pytest.fixture(autouse=True)
def _fresh_cache():
    """The API's throttle counters live in the cache, which outlives a test's database."""
    cache.clear()
    yield
    cache.clear()


def _web_login(client: Client, username: str, password: str, **extra):  # type: ignore[no-untyped-def]
    return client.post(
        "/accounts/login/", {"username": username, "password": password}, HTTP_ACCEPT_LANGUAGE="en", **extra
    )


def _signed_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


# ------------------------------------------------------------------------------
# The web log-in
# ------------------------------------------------------------------------------
@LOCKOUT
def test_web_login_locks_out_and_the_right_password_then_does_not_sign_in(client, user_with_role, audit_log):
    user_with_role(Role.END_USER, "lou")

    wrong = [_web_login(client, "lou", f"wrong-{i}") for i in range(LIMIT)]
    right = _web_login(client, "lou", PASSWORD)

    assert [r.status_code for r in wrong] == [200] * (LIMIT - 1) + [429]
    assert right.status_code == 429
    assert not _signed_in(client)
    assert right["Retry-After"] == "900"
    page = right.content.decode()
    assert "Too many failed sign-ins" in page and "Try again in 15 minutes" in page
    locked = audit_log.filter(event_type="auth.locked_out").order_by("seq")
    # The attempt that reached the limit and the right password after it.
    assert locked.count() == 2
    assert locked.last().payload_data["username"] == "lou" and locked.last().source_ip == "127.0.0.1"
    assert locked.last().payload_data["failure_limit"] == LIMIT
    assert locked.last().payload_data["cool_off_seconds"] == 900
    last_failure = audit_log.filter(event_type="auth.login_failed").order_by("seq").last()
    assert last_failure.payload_data == {"username": "lou", "reason": "locked_out"}
    assert not audit_log.filter(event_type="auth.login").exists()


@LOCKOUT
def test_the_lock_lifts_after_the_cool_off_period(client, user_with_role):
    user_with_role(Role.END_USER, "lou")
    for i in range(LIMIT):
        _web_login(client, "lou", f"wrong-{i}")
    assert _web_login(client, "lou", PASSWORD).status_code == 429

    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=16))
    response = _web_login(client, "lou", PASSWORD)

    assert response.status_code == 302 and _signed_in(client)


@LOCKOUT
def test_the_account_is_locked_from_another_address_too(user_with_role):
    user_with_role(Role.END_USER, "lou")
    for i in range(LIMIT):
        _web_login(Client(), "lou", f"wrong-{i}", REMOTE_ADDR="203.0.113.1")

    elsewhere = Client()
    response = _web_login(elsewhere, "lou", PASSWORD, REMOTE_ADDR="198.51.100.2")

    assert response.status_code == 429 and not _signed_in(elsewhere)


@LOCKOUT
def test_an_address_guessing_many_accounts_is_locked_out(user_with_role):
    user_with_role(Role.END_USER, "lou")
    for i in range(LIMIT):
        _web_login(Client(), f"nobody-{i}", "guess", REMOTE_ADDR="203.0.113.1")

    same_address = Client()
    refused = _web_login(same_address, "lou", PASSWORD, REMOTE_ADDR="203.0.113.1")
    other = Client()
    accepted = _web_login(other, "lou", PASSWORD, REMOTE_ADDR="198.51.100.2")

    assert refused.status_code == 429 and not _signed_in(same_address)
    assert accepted.status_code == 302 and _signed_in(other)


@LOCKOUT
def test_a_forged_x_forwarded_for_does_not_escape_the_lockout(client, user_with_role):
    user_with_role(Role.END_USER, "lou")
    for i in range(LIMIT):
        _web_login(Client(), f"nobody-{i}", "guess", HTTP_X_FORWARDED_FOR=f"10.0.0.{i}")

    response = _web_login(client, "lou", PASSWORD, HTTP_X_FORWARDED_FOR="10.9.9.9")

    assert response.status_code == 429 and not _signed_in(client)


@LOCKOUT
@override_settings(TRUSTED_PROXY_COUNT=1)
def test_behind_one_trusted_proxy_only_the_address_it_appended_counts(user_with_role):
    """The proxy appends the address it saw; what the client wrote before it is ignored."""
    user_with_role(Role.END_USER, "lou")
    for i in range(LIMIT):
        _web_login(Client(), f"nobody-{i}", "guess", HTTP_X_FORWARDED_FOR=f"10.0.0.{i}, 203.0.113.1")

    same_client = Client()
    refused = _web_login(same_client, "lou", PASSWORD, HTTP_X_FORWARDED_FOR="10.7.7.7, 203.0.113.1")
    other_client = Client()
    accepted = _web_login(other_client, "lou", PASSWORD, HTTP_X_FORWARDED_FOR="203.0.113.1, 198.51.100.2")

    assert refused.status_code == 429 and not _signed_in(same_client)
    assert accepted.status_code == 302 and _signed_in(other_client)
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"203.0.113.1"}


# ------------------------------------------------------------------------------
# The admin log-in
# ------------------------------------------------------------------------------
@LOCKOUT
def test_admin_login_locks_out_and_the_right_password_then_does_not_sign_in(client, django_user_model, audit_log):
    django_user_model.objects.create_user(username="ann", password=PASSWORD, is_staff=True, is_superuser=True)

    for i in range(LIMIT):
        client.post("/admin/login/", {"username": "ann", "password": f"wrong-{i}"}, HTTP_ACCEPT_LANGUAGE="en")
    right = client.post("/admin/login/", {"username": "ann", "password": PASSWORD}, HTTP_ACCEPT_LANGUAGE="en")

    assert right.status_code == 429 and "Try again in 15 minutes" in right.content.decode()
    assert not _signed_in(client)
    assert client.get("/admin/").status_code == 302
    assert [e.payload_data["username"] for e in audit_log.filter(event_type="auth.locked_out")] == ["ann", "ann"]


# ------------------------------------------------------------------------------
# The API token endpoint
# ------------------------------------------------------------------------------
def _token(client: APIClient, username: str, password: str, **extra):  # type: ignore[no-untyped-def]
    return client.post(
        "/api/v1/auth/token/", {"username": username, "password": password}, HTTP_ACCEPT_LANGUAGE="en", **extra
    )


@LOCKOUT
def test_token_endpoint_locks_out_with_429_the_error_body_and_retry_after(user_with_role, audit_log):
    user = user_with_role(Role.END_USER, "carol")
    client = APIClient()

    wrong = [_token(client, "carol", f"wrong-{i}") for i in range(LIMIT)]
    right = _token(client, "carol", PASSWORD)

    assert [r.status_code for r in wrong] == [400] * (LIMIT - 1) + [429]
    assert right.status_code == 429
    assert right["Retry-After"] == "900"
    assert right.json() == {
        "error": {
            "code": "locked_out",
            "message": "Too many failed sign-ins. Try again in 15 minutes.",
            "fields": {},
        }
    }
    assert not Token.objects.filter(user=user).exists()
    assert [e.payload_data["username"] for e in audit_log.filter(event_type="auth.locked_out")] == ["carol", "carol"]


@LOCKOUT
def test_token_endpoint_lockout_is_not_escaped_with_x_forwarded_for(user_with_role):
    user = user_with_role(Role.END_USER, "carol")
    for i in range(LIMIT):
        _token(APIClient(), f"nobody-{i}", "guess", HTTP_X_FORWARDED_FOR=f"10.0.0.{i}")

    response = _token(APIClient(), "carol", PASSWORD, HTTP_X_FORWARDED_FOR="10.9.9.9")

    assert response.status_code == 429 and not Token.objects.filter(user=user).exists()


def test_token_endpoint_refuses_an_overlong_username_with_a_400():
    response = _token(APIClient(), "x" * 300, "guess")

    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == ["username"]


def test_token_endpoint_rate_is_not_escaped_with_x_forwarded_for(settings):
    """The request rate of the token endpoint counted per client address: a new X-Forwarded-For each time
    used to give a new allowance."""
    settings.REST_FRAMEWORK = settings.REST_FRAMEWORK | {
        "DEFAULT_THROTTLE_RATES": settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] | {"token": "3/min"}
    }
    answers = [_token(APIClient(), "x", "y", HTTP_X_FORWARDED_FOR=f"10.0.0.{i}").status_code for i in range(4)]

    assert answers == [400, 400, 400, 429]


# ------------------------------------------------------------------------------
# One setting for the client address
# ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("proxies", "forwarded", "expected"),
    [
        (0, "", "192.0.2.10"),
        (0, "10.0.0.1", "192.0.2.10"),
        (1, "", "192.0.2.10"),
        (1, "10.0.0.1, 203.0.113.1", "203.0.113.1"),
        (2, "10.0.0.1, 203.0.113.1, 198.51.100.7", "203.0.113.1"),
        (2, "203.0.113.1", "203.0.113.1"),
        (1, "10.0.0.1, not-an-address", "192.0.2.10"),
    ],
)
def test_client_address_follows_the_trusted_proxy_count(settings, proxies, forwarded, expected):
    settings.TRUSTED_PROXY_COUNT = proxies
    meta = {"REMOTE_ADDR": "192.0.2.10"} | ({"HTTP_X_FORWARDED_FOR": forwarded} if forwarded else {})
    request = RequestFactory().get("/", **meta)

    assert client_address(request) == expected


def test_the_api_throttles_read_the_same_setting():
    from django.conf import settings

    assert settings.REST_FRAMEWORK["NUM_PROXIES"] == settings.TRUSTED_PROXY_COUNT
    assert settings.AXES_CLIENT_IP_CALLABLE == "genai_platform.client_address.client_address"


@override_settings(TRUSTED_PROXY_COUNT=1)
def test_the_audit_log_records_the_address_the_trusted_proxy_appended(client, django_user_model, audit_log):
    django_user_model.objects.create_user(username="ann", password=PASSWORD)

    client.post("/accounts/login/", {"username": "ann", "password": "wrong"}, HTTP_X_FORWARDED_FOR="1.1.1.1, 10.1.2.3")

    assert audit_log.get(event_type="auth.login_failed").source_ip == "10.1.2.3"


@LOCKOUT
def test_an_administrator_clearing_the_failures_unlocks_and_is_recorded(
    client, user_with_role, django_user_model, audit_log
):  # type: ignore[no-untyped-def]
    from axes.models import AccessAttempt

    user_with_role(Role.END_USER, "lou")
    for i in range(LIMIT):
        _web_login(client, "lou", f"wrong-{i}")
    assert _web_login(client, "lou", PASSWORD).status_code == 429
    admin_user = django_user_model.objects.create_superuser("root", "root@example.com", PASSWORD)
    admin_client = Client()
    admin_client.force_login(admin_user)

    attempts = list(AccessAttempt.objects.filter(username="lou").values_list("pk", flat=True))
    response = admin_client.post(
        "/admin/axes/accessattempt/",
        {"action": "delete_selected", "_selected_action": attempts, "post": "yes"},
    )

    assert response.status_code == 302
    assert not AccessAttempt.objects.filter(username="lou").exists()
    cleared = audit_log.filter(event_type="auth.lockout_cleared")
    assert cleared.count() == len(attempts)
    assert cleared.first().payload_data["username"] == "lou"
    assert cleared.first().actor_username == "root"
    assert _web_login(client, "lou", PASSWORD).status_code == 302

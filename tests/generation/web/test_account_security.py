"""API tokens end with a password change, a password reset or a deactivation; sign-up and password reset do
not tell whether an e-mail address is registered; token, sign-up and password events are in the audit log."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.cache import cache
from django.core.management import call_command
from django.test import Client
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from filing.history import acting_as
from genai_platform.roles import Role

pytestmark = pytest.mark.django_db

PASSWORD = "pw-for-tests-123"
NEW_PASSWORD = "Brand-new-pass-42"


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


def _token_for(username: str, password: str = PASSWORD) -> str:
    response = APIClient().post("/api/v1/auth/token/", {"username": username, "password": password})
    assert response.status_code == 200, response.content
    return str(response.json()["token"])


def _api_status(key: str) -> int:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return int(client.get("/api/v1/jobs/").status_code)


def _revocations(audit_log) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    revoked = audit_log.filter(event_type="user.token_revoked").order_by("seq")
    return [(e.subject_id, e.payload_data["reason"]) for e in revoked]


# ------------------------------------------------------------------------------
# Tokens end with the password or the account
# ------------------------------------------------------------------------------
def test_a_token_stops_working_when_the_password_is_changed(client, user_with_role, audit_log):
    user = user_with_role(Role.END_USER, "ella")
    key = _token_for("ella")
    assert _api_status(key) == 200
    client.force_login(user)

    response = client.post(
        "/accounts/password/change/",
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )

    assert response.status_code == 302
    assert _api_status(key) == 401
    assert not Token.objects.filter(user=user).exists()
    assert _revocations(audit_log) == [(str(user.pk), "password_changed")]
    revoked = audit_log.get(event_type="user.token_revoked")
    assert revoked.actor_username == "ella"
    changed = audit_log.get(event_type="user.password_changed")
    assert (changed.actor_username, changed.subject_id) == ("ella", str(user.pk))
    # The new password gives a new token.
    assert _api_status(_token_for("ella", NEW_PASSWORD)) == 200


def test_a_token_stops_working_when_the_password_is_reset(client, user_with_role, audit_log):
    user = user_with_role(Role.END_USER, "forgetful")
    user.email = "f@example.com"
    user.save()
    key = _token_for("forgetful")

    client.post("/accounts/password/reset/", {"email": "f@example.com"})
    link = re.search(r"https?://[^/]+(/accounts/reset/\S+)", mail.outbox[0].body).group(1)
    set_url = client.get(link, follow=True).redirect_chain[-1][0]
    done = client.post(set_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})

    assert done["Location"] == "/accounts/reset/done/"
    assert _api_status(key) == 401
    assert _revocations(audit_log) == [(str(user.pk), "password_changed")]
    reset = audit_log.get(event_type="user.password_reset")
    assert (reset.actor_username, reset.subject_id) == ("forgetful", str(user.pk))


def test_a_token_stops_working_when_an_operator_sets_the_password(user_with_role, audit_log):
    user_with_role(Role.END_USER, "ella")
    key = _token_for("ella")
    user = get_user_model().objects.get(username="ella")

    user.set_password(NEW_PASSWORD)
    user.save()

    assert _api_status(key) == 401
    assert _revocations(audit_log) == [(str(user.pk), "password_changed")]


def test_a_token_stops_working_when_the_account_is_deactivated_and_stays_dead_after(user_with_role, audit_log):
    user = user_with_role(Role.END_USER, "ella")
    key = _token_for("ella")
    operator = get_user_model().objects.create_superuser("root", password=PASSWORD)

    # Deactivated by an operator (as the admin's requests are attributed), then activated again.
    with acting_as(operator):
        user.is_active = False
        user.save()
    user.is_active = True
    user.save()

    assert _api_status(key) == 401
    assert not Token.objects.filter(user=user).exists()
    assert _revocations(audit_log) == [(str(user.pk), "deactivated")]
    assert audit_log.get(event_type="user.token_revoked").actor_username == "root"


def test_saving_a_user_for_other_reasons_keeps_the_token(user_with_role, audit_log):
    user = user_with_role(Role.END_USER, "ella")
    key = _token_for("ella")

    user.first_name = "Ella"
    user.save()

    assert _api_status(key) == 200
    assert _revocations(audit_log) == []


def test_changepassword_command_ends_the_token(user_with_role, monkeypatch):
    user_with_role(Role.END_USER, "ella")
    key = _token_for("ella")
    monkeypatch.setattr("getpass.getpass", lambda prompt="": NEW_PASSWORD)

    call_command("changepassword", "ella")

    assert _api_status(key) == 401


# ------------------------------------------------------------------------------
# Token events
# ------------------------------------------------------------------------------
def test_token_creation_and_revocation_are_audit_events(client, user_with_role, audit_log):
    user = user_with_role(Role.END_USER, "ella")

    key = _token_for("ella")
    _token_for("ella")  # the same token again: nothing new
    client.force_login(user)
    client.post("/account/", {"action": "token"})
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get(user=user).key}")
    deleted = api.delete("/api/v1/auth/token/")

    assert deleted.status_code == 204 and _api_status(key) == 401
    events = [
        (e.event_type, e.actor_username, e.payload_data)
        for e in audit_log.filter(event_type__startswith="user.token_").order_by("seq")
    ]
    assert events == [
        ("user.token_created", "ella", {"how": "api"}),
        ("user.token_revoked", "ella", {"reason": "replaced"}),
        ("user.token_created", "ella", {"how": "account_page"}),
        ("user.token_revoked", "ella", {"reason": "user"}),
    ]


# ------------------------------------------------------------------------------
# Sign-up and password reset tell nothing about who is registered
# ------------------------------------------------------------------------------
def _signup(client: Client, username: str, email: str):  # type: ignore[no-untyped-def]
    return client.post(
        "/accounts/signup/",
        {
            "username": username,
            "email": email,
            "date_of_birth": "1990-01-01",
            "password1": "a-Long-pass-9876",
            "password2": "a-Long-pass-9876",
            "accept_terms": "on",
        },
        HTTP_ACCEPT_LANGUAGE="en",
    )


def _normalised(page: bytes) -> str:
    """The page without what differs on every request (CSRF tokens, the form's idempotency key)."""
    text = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", page.decode())
    return re.sub(r'value="[0-9a-f]{32}"', "", text)


def _next_page(client: Client, response) -> str:  # type: ignore[no-untyped-def]
    page = _normalised(client.get(response["Location"], HTTP_ACCEPT_LANGUAGE="en").content)
    # The page names the signed-in user; everything else must be the same.
    return re.sub(r"newbie-\w+", "USER", page)


def test_sign_up_answers_the_same_for_a_registered_and_a_new_address(
    user_with_role, audit_log, django_capture_on_commit_callbacks
):
    owner = user_with_role(Role.END_USER, "owner")
    owner.email = "taken@example.com"
    owner.save()
    known_client, new_client = Client(), Client()

    with django_capture_on_commit_callbacks(execute=True):
        known = _signup(known_client, "newbie-a", "Taken@example.com")
        new = _signup(new_client, "newbie-b", "fresh@example.com")

    assert known.status_code == new.status_code == 302
    assert known["Location"] == new["Location"]
    assert _next_page(known_client, known) == _next_page(new_client, new)
    # Both got an account and one mail to the address given.
    users = get_user_model().objects
    assert users.get(username="newbie-a").email == ""  # the address stays the owner's
    assert users.get(username="newbie-b").email == "fresh@example.com"
    assert sorted(m.to[0] for m in mail.outbox) == ["Taken@example.com", "fresh@example.com"]
    to_owner = next(m for m in mail.outbox if m.to == ["Taken@example.com"])
    assert "owner" in to_owner.body and "/accounts/password/reset/" in to_owner.body
    assert "newbie-a" not in to_owner.body
    signed_up = {e.subject_id: e.payload_data for e in audit_log.filter(event_type="user.signed_up")}
    assert signed_up == {
        str(users.get(username="newbie-a").pk): {"email": "Taken@example.com", "email_in_use": True},
        str(users.get(username="newbie-b").pk): {"email": "fresh@example.com", "email_in_use": False},
    }


def test_a_second_account_cannot_take_over_the_password_reset_of_an_address(user_with_role):
    owner = user_with_role(Role.END_USER, "owner")
    owner.email = "taken@example.com"
    owner.save()
    _signup(Client(), "newbie-a", "taken@example.com")
    mail.outbox.clear()

    Client().post("/accounts/password/reset/", {"email": "taken@example.com"})

    assert len(mail.outbox) == 1 and "owner" in mail.outbox[0].body


def test_password_reset_answers_the_same_for_a_registered_and_an_unknown_address(user_with_role):
    owner = user_with_role(Role.END_USER, "owner")
    owner.email = "taken@example.com"
    owner.save()
    client = Client()

    known = client.post("/accounts/password/reset/", {"email": "taken@example.com"}, HTTP_ACCEPT_LANGUAGE="en")
    unknown = client.post("/accounts/password/reset/", {"email": "nobody@example.com"}, HTTP_ACCEPT_LANGUAGE="en")

    assert (known.status_code, known["Location"]) == (unknown.status_code, unknown["Location"])
    known_page = client.get(known["Location"], HTTP_ACCEPT_LANGUAGE="en")
    unknown_page = client.get(unknown["Location"], HTTP_ACCEPT_LANGUAGE="en")
    assert _normalised(known_page.content) == _normalised(unknown_page.content)
    assert "If an account uses that address" in known_page.content.decode()
    assert [m.to for m in mail.outbox] == [["taken@example.com"]]

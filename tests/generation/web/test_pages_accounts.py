"""End-user pages with Django's test client: sign-up, log-in and passwords, account settings."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.files.storage import default_storage
from django.test import Client

from audit.models import LogEntry
from genai_platform.roles import Role, user_has_role
from generation.models import Job, Output, UserSettings
from tests.generation.api.helpers import job_make, output_make
from tests.generation.web.helpers import PASSWORD, text_of, user_of

pytestmark = pytest.mark.django_db


# ------------------------------------------------------------------------------
# Accounts
# ------------------------------------------------------------------------------
def _signup(client: Client, **extra) -> object:
    data = {
        "username": "newbie",
        "email": "newbie@example.com",
        "date_of_birth": "1990-01-01",
        "password1": "a-Long-pass-9876",
        "password2": "a-Long-pass-9876",
        "accept_terms": "on",
    } | extra
    return client.post("/accounts/signup/", data)


def test_signing_up_makes_an_end_user_signed_in_with_their_training_choice(client):
    response = _signup(client, inputs_for_training="on")

    assert response.status_code == 302 and response["Location"] == "/generate/"
    user = get_user_model().objects.get(username="newbie")
    assert user_has_role(user, Role.END_USER)
    assert UserSettings.objects.get(user=user).inputs_for_training is True
    assert client.get("/generate/").status_code == 200


def test_signing_up_without_accepting_the_terms_is_refused_with_a_message(client):
    response = _signup(client, accept_terms="")

    assert response.status_code == 200
    assert "请接受服务条款和隐私政策" in text_of(response)
    assert not get_user_model().objects.filter(username="newbie").exists()


def test_the_training_choice_is_off_unless_ticked(client):
    _signup(client)

    assert UserSettings.objects.get(user__username="newbie").inputs_for_training is False


def test_log_in_and_out_are_recorded_in_the_audit_log(client, user_with_role):
    user_with_role(Role.END_USER, "lou")

    bad = client.post("/accounts/login/", {"username": "lou", "password": "wrong"})
    good = client.post("/accounts/login/", {"username": "lou", "password": PASSWORD})
    out = client.post("/accounts/logout/")

    assert bad.status_code == 200 and "请输入一个正确的" in text_of(bad)
    assert good.status_code == 302 and good["Location"] == "/generate/"
    assert out.status_code == 302
    events = list(
        LogEntry.objects.filter(event_type__startswith="auth.")
        .order_by("seq")
        .values_list("event_type", "actor_username")
    )
    assert events == [("auth.login_failed", "lou"), ("auth.login", "lou"), ("auth.logout", "lou")]


def test_log_in_returns_to_the_page_asked_for(client, user_with_role):
    user_with_role(Role.END_USER, "lou")

    first = client.get("/history/")
    response = client.post(first["Location"], {"username": "lou", "password": PASSWORD, "next": "/history/"})

    assert first["Location"].startswith("/accounts/login/?next=/history/")
    assert response["Location"] == "/history/"


@pytest.mark.parametrize(
    ("role", "landing"), [(Role.END_USER, "/generate/"), (Role.AUDITOR, "/audit/"), (Role.OPERATOR, "/admin/")]
)
def test_signing_in_lands_each_role_on_its_own_pages(client, user_with_role, role, landing):
    user_with_role(role, "someone")

    response = client.post("/accounts/login/", {"username": "someone", "password": PASSWORD})

    assert response.status_code == 302 and response["Location"] == landing
    assert client.get(landing).status_code == 200
    # and the home page's button leads there too, rather than to the generation page an auditor may not open
    home = client.get("/").content.decode()
    assert f'class="button" href="{landing}"' in home


def test_a_page_the_role_may_not_open_is_a_page_of_the_site_with_the_way_to_its_own_pages(client, user_with_role):
    client.force_login(user_with_role(Role.END_USER, "enduser"))

    response = client.get("/audit/", HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 403
    page = response.content.decode()
    assert "Not allowed" in text_of(response) and 'href="/generate/"' in page
    assert "site.css" in page, "the site's own layout, not a bare error page"


def test_a_missing_page_is_a_page_of_the_site(client):
    response = client.get("/no/such/page/", HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 404
    assert "Page not found" in text_of(response) and "site.css" in response.content.decode()


def test_password_reset_mails_a_link_that_sets_a_new_password(client, user_with_role):
    user = user_with_role(Role.END_USER, "forgetful")
    user.email = "f@example.com"
    user.save()

    client.post("/accounts/password/reset/", {"email": "f@example.com"})

    assert len(mail.outbox) == 1
    link = re.search(r"https?://[^/]+(/accounts/reset/\S+)", mail.outbox[0].body).group(1)
    form_page = client.get(link, follow=True)
    set_url = form_page.redirect_chain[-1][0]
    done = client.post(set_url, {"new_password1": "Brand-new-pass-42", "new_password2": "Brand-new-pass-42"})
    assert done["Location"] == "/accounts/reset/done/"
    assert Client().login(username="forgetful", password="Brand-new-pass-42")


def test_password_change(enduser):
    response = enduser.post(
        "/accounts/password/change/",
        {"old_password": PASSWORD, "new_password1": "Other-pass-4321", "new_password2": "Other-pass-4321"},
    )

    assert response["Location"] == "/accounts/password/change/done/"
    assert Client().login(username="ella", password="Other-pass-4321")


# ------------------------------------------------------------------------------
# Account settings
# ------------------------------------------------------------------------------
def test_the_training_opt_out_is_within_four_clicks_of_home(enduser):
    # Click 1: "Account settings" in the navigation of the home page.
    home = text_of(enduser.get("/"))
    assert 'href="/account/"' in home
    page = text_of(enduser.get("/account/"))
    # Click 2 untick, click 3 save.
    assert 'name="inputs_for_training"' in page
    assert 'value="settings"' in page


def test_opting_out_and_in_shows_the_current_status(enduser):
    enduser.post("/account/", {"action": "settings", "inputs_for_training": "on"})
    assert "可能" in text_of(enduser.get("/account/"))

    response = enduser.post("/account/", {"action": "settings"}, follow=True)

    assert UserSettings.objects.get(user=user_of(enduser)).inputs_for_training is False
    assert "不会用于训练" in text_of(response)


def test_deleting_history_removes_jobs_and_files_but_the_audit_log_keeps_its_records(enduser, user_with_role):
    user = user_of(enduser)
    job = job_make(user)
    output = output_make(job)
    queued = job_make(user, status=Job.Status.QUEUED)
    running = job_make(user, status=Job.Status.RUNNING)
    other = output_make(job_make(user_with_role(Role.END_USER, "other")))
    enduser.get(f"/outputs/{output.produce_id}/file/?download=1")
    records_before = LogEntry.objects.count()

    page = text_of(enduser.get("/account/"))
    refused = enduser.post("/account/", {"action": "delete_history"})
    assert refused.status_code == 200 and Job.objects.filter(pk=job.pk).exists()
    response = enduser.post("/account/", {"action": "delete_history", "confirm": "on"}, follow=True)

    assert "审计日志" in page and "摘要" in page
    assert set(Job.objects.filter(user=user)) == {running}
    assert not Job.objects.filter(pk=queued.pk).exists()
    assert not default_storage.exists(output.file.name)
    assert Output.objects.filter(pk=other.pk).exists()
    # The earlier records stay; the deletion itself is one more.
    assert LogEntry.objects.count() == records_before + 1
    deleted = LogEntry.objects.order_by("-seq").first()
    assert deleted.event_type == "user.history_deleted" and deleted.actor_username == user.username
    assert deleted.payload_data == {"jobs_deleted": 2, "outputs_deleted": 1, "kept_running": 1}
    assert "仍在运行" in text_of(response)


def test_an_api_token_can_be_created_on_the_settings_page(enduser):
    from rest_framework.authtoken.models import Token

    page = text_of(enduser.post("/account/", {"action": "token"}))

    key = Token.objects.get(user=user_of(enduser)).key
    assert key in page

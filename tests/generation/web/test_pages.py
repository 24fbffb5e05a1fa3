"""End-user pages with Django's test client: accounts, settings, generate, job, outputs, reports, history."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.cache import cache
from django.core.files.storage import default_storage
from django.test import Client

from audit.models import LogEntry
from filing.models import Complaint
from genai_platform.roles import Role, user_has_role
from generation.models import Job, Output, UserSettings
from tests.generation.api.helpers import job_make, output_make

pytestmark = pytest.mark.django_db

PASSWORD = "pw-for-tests-123"


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()


@pytest.fixture
def enduser(client_for):
    return client_for(Role.END_USER, "ella")


def _user(client: Client):
    return get_user_model().objects.get(pk=client.session["_auth_user_id"])


def _text(response) -> str:
    return response.content.decode()


# ------------------------------------------------------------------------------
# Home and notices
# ------------------------------------------------------------------------------
def test_home_shows_the_service_its_filing_number_the_ai_notice_and_the_links(client):
    from filing.models import Service
    from tests.generation.factories import service_serving

    service = service_serving(status=Service.Status.FILED)
    Service.objects.filter(pk=service.pk).update(filing_number="Beijing-CeShi-202601010001")

    page = _text(client.get("/"))

    assert "测试服务" in page
    assert "Beijing-CeShi-202601010001" in page
    assert "人工智能生成" in page
    for url in ("/terms/", "/privacy/", "/complaints/"):
        assert f'href="{url}"' in page


def test_without_a_public_service_the_pages_say_it_is_not_open_yet(client):
    from filing.models import Service

    Service.objects.update(is_public=False)

    assert "尚未开放" in _text(client.get("/"))


@pytest.mark.parametrize("url", ["/terms/", "/privacy/", "/complaints/"])
def test_notices_are_public(client, url):
    response = client.get(url)

    assert response.status_code == 200
    assert "<h1>" in _text(response)


def test_the_complaints_page_states_the_response_time(client, settings):
    settings.COMPLAINT_RESPONSE_DAYS = 5

    assert "5 天内" in _text(client.get("/complaints/"))


def test_pages_load_htmx_from_the_platform_not_a_cdn(client):
    page = _text(client.get("/"))

    scripts = re.findall(r'<script[^>]*src="([^"]+)"', page)
    assert scripts == ["/static/generation/vendor/htmx-2.0.11/htmx.min.js", "/static/generation/site.js"]


def test_the_vendored_htmx_is_the_file_its_readme_names():
    folder = Path(__file__).resolve().parents[3] / "generation/static/generation/vendor/htmx-2.0.11"
    digest = hashlib.sha256((folder / "htmx.min.js").read_bytes()).hexdigest()

    assert digest in (folder / "README.md").read_text()
    assert "Zero-Clause BSD" in (folder / "LICENSE").read_text()


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
    assert "请接受服务条款和隐私政策" in _text(response)
    assert not get_user_model().objects.filter(username="newbie").exists()


def test_the_training_choice_is_off_unless_ticked(client):
    _signup(client)

    assert UserSettings.objects.get(user__username="newbie").inputs_for_training is False


def test_log_in_and_out_are_recorded_in_the_audit_log(client, user_with_role):
    user_with_role(Role.END_USER, "lou")

    bad = client.post("/accounts/login/", {"username": "lou", "password": "wrong"})
    good = client.post("/accounts/login/", {"username": "lou", "password": PASSWORD})
    out = client.post("/accounts/logout/")

    assert bad.status_code == 200 and "请输入一个正确的" in _text(bad)
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
# Roles
# ------------------------------------------------------------------------------
END_USER_PAGES = ["/generate/", "/history/", "/account/"]


@pytest.mark.parametrize("url", END_USER_PAGES)
def test_anonymous_visitors_are_sent_to_log_in(client, url):
    response = client.get(url)

    assert response.status_code == 302
    assert response["Location"].startswith(f"/accounts/login/?next={url}")


@pytest.mark.parametrize("role", [Role.OPERATOR, Role.AUDITOR, None])
@pytest.mark.parametrize("url", END_USER_PAGES)
def test_other_roles_get_a_403_page_that_says_why(client_for, role, url):
    response = client_for(role).get(url)

    assert response.status_code == 403
    assert "终端用户" in _text(response)


# ------------------------------------------------------------------------------
# Account settings
# ------------------------------------------------------------------------------
def test_the_training_opt_out_is_within_four_clicks_of_home(enduser):
    # Click 1: "Account settings" in the navigation of the home page.
    home = _text(enduser.get("/"))
    assert 'href="/account/"' in home
    page = _text(enduser.get("/account/"))
    # Click 2 untick, click 3 save.
    assert 'name="inputs_for_training"' in page
    assert 'value="settings"' in page


def test_opting_out_and_in_shows_the_current_status(enduser):
    enduser.post("/account/", {"action": "settings", "inputs_for_training": "on"})
    assert "可能" in _text(enduser.get("/account/"))

    response = enduser.post("/account/", {"action": "settings"}, follow=True)

    assert UserSettings.objects.get(user=_user(enduser)).inputs_for_training is False
    assert "不会用于训练" in _text(response)


def test_deleting_history_removes_jobs_and_files_but_the_audit_log_keeps_its_records(enduser, user_with_role):
    user = _user(enduser)
    job = job_make(user)
    output = output_make(job)
    queued = job_make(user, status=Job.Status.QUEUED)
    running = job_make(user, status=Job.Status.RUNNING)
    other = output_make(job_make(user_with_role(Role.END_USER, "other")))
    enduser.get(f"/outputs/{output.produce_id}/file/?download=1")
    records_before = LogEntry.objects.count()

    page = _text(enduser.get("/account/"))
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
    assert "仍在运行" in _text(response)


def test_an_api_token_can_be_created_on_the_settings_page(enduser):
    from rest_framework.authtoken.models import Token

    page = _text(enduser.post("/account/", {"action": "token"}))

    key = Token.objects.get(user=_user(enduser)).key
    assert key in page


# ------------------------------------------------------------------------------
# Generate
# ------------------------------------------------------------------------------
def test_the_generate_page_shows_three_kinds_limits_and_quota(enduser, settings):
    settings.GENERATION_DAILY_QUOTA = 7
    job_make(_user(enduser))

    pages = {kind: _text(enduser.get(f"/generate/?kind={kind}")) for kind in ("gan", "vae", "lm")}

    for page in pages.values():
        assert "?kind=gan" in page and "?kind=vae" in page and "?kind=lm" in page
        assert "已用 1 次，共 7 次" in page
    assert f'max="{settings.GENERATION_LIMITS["max_images"]}"' in pages["gan"]
    assert f"{settings.GENERATION_LIMITS['max_prompt_chars']} 个字符" in pages["lm"]
    assert "暂不可用" in pages["gan"]  # no serving checkpoint in this test


@pytest.fixture
def serving():
    from tests.generation.factories import checkpoint_tiny

    return {kind: checkpoint_tiny(kind) for kind in ("gan", "lm")}


def test_a_valid_form_creates_a_job_and_opens_its_page(enduser, serving):
    response = enduser.post("/generate/", {"kind": "gan", "gan-digit": "5", "gan-count": "2", "gan-seed": "9"})

    job = Job.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/jobs/{job.public_id}/"
    assert (job.kind, job.params, job.seed) == ("gan", {"digit": 5, "count": 2}, 9)


def test_submitting_the_same_form_twice_makes_one_job(enduser, serving):
    data = {"kind": "gan", "gan-digit": "5", "gan-count": "1", "idempotency_key": "form-123"}

    first = enduser.post("/generate/", data)
    second = enduser.post("/generate/", data)

    assert first["Location"] == second["Location"]
    assert Job.objects.count() == 1


def test_a_form_sent_again_with_other_values_makes_no_second_job_and_says_why(enduser, serving):
    data = {"kind": "gan", "gan-digit": "5", "gan-count": "1", "idempotency_key": "form-456"}
    enduser.post("/generate/", data)

    again = enduser.post("/generate/", data | {"gan-digit": "6"}, HTTP_ACCEPT_LANGUAGE="en")

    assert again.status_code == 400
    assert "This form was already sent with other values" in _text(again)
    assert Job.objects.get().params["digit"] == 5


def test_bad_parameters_are_shown_next_to_their_fields(enduser, serving, settings):
    response = enduser.post("/generate/", {"kind": "gan", "gan-count": "999"})

    page = _text(response)
    assert response.status_code == 400
    assert "必填项" in page
    assert f"小于或等于{settings.GENERATION_LIMITS['max_images']}" in page
    assert not Job.objects.exists()


def test_vae_morph_needs_both_seeds(enduser):
    from tests.generation.factories import checkpoint_tiny

    checkpoint_tiny("vae")
    response = enduser.post("/generate/", {"kind": "vae", "vae-mode": "interpolate", "vae-steps": "4"})

    page = _text(response)
    assert "请输入要变换到的种子" in page and "请输入起始种子" in page


def test_a_prompt_the_service_rejects_is_a_field_error(enduser, serving, settings):
    too_long = "春" * (settings.GENERATION_LIMITS["max_prompt_chars"] + 1)

    response = enduser.post("/generate/", {"kind": "lm", "lm-tune": "慢词", "lm-opening": too_long})

    assert response.status_code == 400
    assert not Job.objects.exists()


def test_over_quota_is_a_clear_message_not_an_error_page(enduser, serving, settings):
    settings.GENERATION_DAILY_QUOTA = 1
    job_make(_user(enduser))

    page = _text(enduser.get("/generate/"))
    response = enduser.post("/generate/", {"kind": "gan", "gan-digit": "1", "gan-count": "1"})

    assert "今天的生成次数已用完" in page
    assert response.status_code == 400
    assert "今天的 1 次生成额度" in _text(response) or "1" in _text(response)
    assert Job.objects.count() == 1


def test_submitting_too_quickly_is_a_clear_message_shared_with_the_api(enduser, serving, settings):
    settings.REST_FRAMEWORK = settings.REST_FRAMEWORK | {
        "DEFAULT_THROTTLE_RATES": settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] | {"enduser_jobs": "2/min"}
    }
    data = {"kind": "gan", "gan-digit": "1", "gan-count": "1"}
    enduser.post("/generate/", data)
    enduser.post("/api/v1/jobs/", {"kind": "gan", "params": {"digit": 2}}, content_type="application/json")

    response = enduser.post("/generate/", data)

    assert response.status_code == 400
    assert "提交任务过于频繁" in _text(response)
    assert Job.objects.count() == 2


def test_a_kind_without_a_trained_net_says_so_once_and_cannot_be_submitted(enduser, audit_log):
    page = _text(enduser.get("/generate/?kind=lm"))
    response = enduser.post("/generate/", {"kind": "lm", "lm-tune": "浣溪沙", "lm-opening": "春"})

    assert 'class="unavailable"' in page and "disabled" in page.split('type="submit"')[-1].split(">")[0]
    assert response.status_code == 400
    text = _text(response)
    reason = "还没有通过质量检查的网络为它服务"
    assert text.count(reason) == 1
    assert audit_log.get(event_type="generation.refused").payload_data["stage"] == "policy"


# ------------------------------------------------------------------------------
# Job page, live part, outputs
# ------------------------------------------------------------------------------
def test_the_job_page_polls_while_queued_and_the_live_part_answers_by_change(enduser, settings):
    settings.GENERATION_JOB_POLL_FIRST_SECONDS = 0.25
    settings.GENERATION_JOB_POLL_MAX_SECONDS = 3
    job = job_make(_user(enduser), status=Job.Status.QUEUED)

    page = _text(enduser.get(f"/jobs/{job.public_id}/"))
    unchanged = enduser.get(f"/jobs/{job.public_id}/live/?seen=queued:1")
    Job.objects.filter(pk=job.pk).update(status=Job.Status.RUNNING)
    changed = enduser.get(f"/jobs/{job.public_id}/live/?seen=queued")
    Job.objects.filter(pk=job.pk).update(status=Job.Status.SUCCEEDED)
    finished = enduser.get(f"/jobs/{job.public_id}/live/?seen=running")

    assert 'hx-trigger="job-poll"' in page and 'aria-live="polite"' in page
    assert 'data-poll-first-ms="250" data-poll-max-ms="3000"' in page
    assert "/static/generation/job_live.js" in page
    assert unchanged.status_code == 204
    assert changed.status_code == 200 and 'data-status="running"' in _text(changed)
    assert finished.status_code == 286 and 'data-status="succeeded"' in _text(finished)


def test_a_polling_page_whose_session_ended_stops_polling_with_a_message(client, enduser):
    job = job_make(_user(enduser), status=Job.Status.QUEUED)

    response = client.get(
        f"/jobs/{job.public_id}/live/?seen=queued",
        HTTP_HX_REQUEST="true",
        HTTP_HX_CURRENT_URL=f"http://testserver/jobs/{job.public_id}/",
    )

    assert response.status_code == 286
    assert f"/accounts/login/?next=/jobs/{job.public_id}/" in _text(response)


def test_a_finished_job_page_shows_results_with_the_ai_badge_download_and_report(enduser):
    job = job_make(_user(enduser))
    output = output_make(job)

    page = _text(enduser.get(f"/jobs/{job.public_id}/"))

    assert "hx-trigger" not in page
    assert "ai-badge" in page
    assert f"/outputs/{output.produce_id}/file/?download=1" in page
    assert f"/outputs/{output.produce_id}/report/" in page
    assert output.produce_id in page


def test_refusal_and_failure_reasons_are_shown_in_plain_words(enduser):
    refused = job_make(_user(enduser), status=Job.Status.REFUSED, reason="提示词含有违法内容，已拒绝。")
    failed = job_make(_user(enduser), status=Job.Status.FAILED, reason="Generation failed: out of memory")

    assert "提示词含有违法内容，已拒绝。" in _text(enduser.get(f"/jobs/{refused.public_id}/"))
    assert "生成时出了问题" in _text(enduser.get(f"/jobs/{failed.public_id}/"))


def test_another_users_job_and_outputs_are_404(enduser, client_for):
    bob = client_for(Role.END_USER, "bob")
    theirs = job_make(_user(bob), status=Job.Status.QUEUED)
    output = output_make(job_make(_user(bob)))

    for url in (
        f"/jobs/{theirs.public_id}/",
        f"/jobs/{theirs.public_id}/live/",
        f"/outputs/{output.produce_id}/file/",
        f"/outputs/{output.produce_id}/report/",
    ):
        assert enduser.get(url).status_code == 404, url
    assert enduser.post(f"/jobs/{theirs.public_id}/cancel/").status_code == 404
    theirs.refresh_from_db()
    assert theirs.status == Job.Status.QUEUED


def test_cancelling_a_queued_job(enduser):
    job = job_make(_user(enduser), status=Job.Status.QUEUED)

    response = enduser.post(f"/jobs/{job.public_id}/cancel/", follow=True)

    job.refresh_from_db()
    assert job.status == Job.Status.CANCELLED
    assert "已取消" in _text(response)


def test_downloading_an_output_serves_the_file_as_an_attachment_and_records_it(enduser):
    output = output_make(job_make(_user(enduser)))

    inline = enduser.get(f"/outputs/{output.produce_id}/file/")
    download = enduser.get(f"/outputs/{output.produce_id}/file/?download=1")

    assert inline["Content-Type"] == "image/png" and "attachment" not in inline.get("Content-Disposition", "")
    assert download["Content-Disposition"].startswith("attachment")
    assert b"".join(download.streaming_content).startswith(b"\x89PNG")
    assert LogEntry.objects.filter(event_type="generation.output_downloaded").count() == 1


def test_reporting_an_output_gives_a_report_number(enduser, settings):
    output = output_make(job_make(_user(enduser)))

    form = enduser.get(f"/outputs/{output.produce_id}/report/")
    empty = enduser.post(f"/outputs/{output.produce_id}/report/", {})
    assert form.status_code == 200
    assert empty.status_code == 200 and not Complaint.objects.exists()

    response = enduser.post(
        f"/outputs/{output.produce_id}/report/", {"reason": "illegal", "details": "坏"}, follow=True
    )

    report = Complaint.objects.get()
    assert (report.produce_id, report.channel, report.details, report.category) == (
        output.produce_id,
        "web",
        "坏",
        "illegal",
    )
    assert f"报告编号是 {report.pk}" in _text(response)
    assert LogEntry.objects.filter(event_type="complaint.received", produce_id=output.produce_id).exists()
    assert output.produce_id in _text(enduser.get("/complaints/"))


# ------------------------------------------------------------------------------
# History
# ------------------------------------------------------------------------------
def test_history_lists_own_jobs_newest_first_with_thumbnails_and_pages(enduser, client_for):
    user = _user(enduser)
    jobs = [job_make(user) for _ in range(12)]
    output = output_make(jobs[-1])
    job_make(_user(client_for(Role.END_USER, "bob")))

    first = _text(enduser.get("/history/"))
    second = _text(enduser.get("/history/?page=2"))

    ids = re.findall(r'href="/jobs/([0-9a-f-]+)/"', first + second)
    assert ids == [str(j.public_id) for j in reversed(jobs)]
    assert f'src="/outputs/{output.produce_id}/file/"' in first
    assert "第 1 / 2 页" in first


def test_history_filters_by_kind_and_status_and_keeps_them_across_pages(enduser):
    user = _user(enduser)
    wanted = job_make(user, kind="lm", status=Job.Status.FAILED)
    job_make(user, kind="lm", status=Job.Status.SUCCEEDED)
    job_make(user, kind="gan", status=Job.Status.FAILED)

    page = _text(enduser.get("/history/?kind=lm&status=failed"))

    assert re.findall(r'href="/jobs/([0-9a-f-]+)/"', page) == [str(wanted.public_id)]


# ------------------------------------------------------------------------------
# Language
# ------------------------------------------------------------------------------
def test_pages_switch_to_english(enduser):
    enduser.post("/i18n/setlang/", {"language": "en", "next": "/generate/"})

    page = _text(enduser.get("/generate/"))

    assert 'lang="en"' in page
    assert "Today's quota" in page or "No daily limit" in page


@pytest.mark.parametrize(
    ("role", "shown", "hidden"),
    [
        (Role.END_USER, ['href="/generate/"', 'href="/account/"'], ['href="/audit/"', 'href="/admin/"']),
        (Role.AUDITOR, ['href="/audit/"'], ['href="/generate/"', 'href="/admin/"']),
        (Role.OPERATOR, ['href="/admin/"'], ['href="/generate/"', 'href="/audit/"']),
    ],
)
def test_the_navigation_offers_what_the_role_can_use(client_for, role, shown, hidden):
    nav = re.search(r'<nav class="site-nav".*?</nav>', _text(client_for(role).get("/terms/")), re.S).group(0)

    assert all(link in nav for link in shown)
    assert not any(link in nav for link in hidden)


# ------------------------------------------------------------------------------
# Text to a tune, every parameter, generating again
# ------------------------------------------------------------------------------
def test_the_text_form_offers_the_tunes_of_the_serving_model_with_their_forms(enduser, serving):
    page = _text(enduser.get("/generate/?kind=lm", HTTP_ACCEPT_LANGUAGE="en"))

    assert '<option value="测试调">测试调 · 3，3。 (8 characters)</option>' in page
    assert 'value="慢词"' in page and 'name="lm-opening"' in page
    assert 'name="lm-prompt"' not in page and 'name="lm-length"' not in page


def test_an_opening_that_does_not_fit_the_tune_is_a_field_error_in_words(enduser, serving):
    response = enduser.post(
        "/generate/", {"kind": "lm", "lm-tune": "测试调", "lm-opening": "春风明月"}, HTTP_ACCEPT_LANGUAGE="en"
    )

    assert response.status_code == 400
    assert "Line 1 of 测试调 has 3 characters; the opening&#x27;s is longer." in _text(response)
    assert not Job.objects.exists()


def test_the_job_page_shows_every_parameter_and_the_place_in_the_queue(enduser):
    user = _user(enduser)
    job_make(user, status=Job.Status.QUEUED, kind="vae", params={"interpolate_to_seed": 42, "steps": 6})
    mine = job_make(user, status=Job.Status.QUEUED, kind="vae", params={"interpolate_to_seed": 9, "steps": 5}, seed=3)

    page = _text(enduser.get(f"/jobs/{mine.public_id}/", HTTP_ACCEPT_LANGUAGE="en"))
    live = enduser.get(f"/jobs/{mine.public_id}/live/?seen=queued:2")

    parameters = page.split('class="parameters')[1].split("</dl>")[0]
    assert "<dt>Morph to seed</dt><dd>9</dd>" in parameters and "<dt>Steps</dt><dd>5</dd>" in parameters
    assert "<dt>Seed</dt><dd>3</dd>" in parameters
    assert "Position in the queue: 2." in page
    assert live.status_code == 204  # nothing changed since the page was drawn


@pytest.mark.parametrize(
    ("kind", "params", "seed", "fields"),
    [
        ("gan", {"digit": 8, "count": 3}, 5, {"gan-digit": "8", "gan-count": "3"}),
        ("vae", {"interpolate_to_seed": 9, "steps": 5}, 4, {"vae-seed": "4", "vae-interpolate_to_seed": "9"}),
        ("lm", {"tune": "长短句", "opening": "春风", "temperature": 1.2, "top_k": 7}, 5, {"lm-opening": "春风"}),
    ],
)
def test_generate_again_opens_the_form_with_every_parameter(enduser, kind, params, seed, fields):
    from tests.generation.factories import checkpoint_tiny

    checkpoint_tiny(kind)
    job = job_make(_user(enduser), kind=kind, params=params, seed=seed)

    page = _text(enduser.get(f"/generate/?again={job.public_id}"))

    for name, value in fields.items():
        assert f'name="{name}" value="{value}"' in page or (
            f'value="{value}"' in page.split(f'name="{name}"')[1][:200]
        ), name
    if kind == "lm":
        assert '<option value="长短句" selected>' in page and 'value="1.2"' in page and 'value="7"' in page
    if kind != "vae":  # the seed is offered, not filled in, so that generating again draws new results
        assert f"上次的种子是 {seed}" in page
        assert f'name="{kind}-seed" value' not in page


def test_generate_again_with_someone_elses_job_opens_an_empty_form(enduser, client_for, serving):
    other = client_for(Role.END_USER, "otto")
    job = job_make(_user(other), kind="gan", params={"digit": 8, "count": 3})

    page = _text(enduser.get(f"/generate/?again={job.public_id}"))

    assert 'value="8" checked' not in page and 'name="gan-count" value="4"' in page

"""End-user pages with Django's test client: the generate page, text to a tune, generating again."""

from __future__ import annotations

import pytest

from genai_platform.roles import Role
from generation.models import Job
from tests.generation.api.helpers import job_make
from tests.generation.web.helpers import text_of, user_of

pytestmark = pytest.mark.django_db


# ------------------------------------------------------------------------------
# Generate
# ------------------------------------------------------------------------------
def test_the_generate_page_shows_three_kinds_limits_and_quota(enduser, settings):
    settings.GENERATION_DAILY_QUOTA = 7
    job_make(user_of(enduser))

    pages = {kind: text_of(enduser.get(f"/generate/?kind={kind}")) for kind in ("gan", "vae", "lm")}

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
    assert "This form was already sent with other values" in text_of(again)
    assert Job.objects.get().params["digit"] == 5


def test_bad_parameters_are_shown_next_to_their_fields(enduser, serving, settings):
    response = enduser.post("/generate/", {"kind": "gan", "gan-count": "999"})

    page = text_of(response)
    assert response.status_code == 400
    assert "必填项" in page
    assert f"小于或等于{settings.GENERATION_LIMITS['max_images']}" in page
    assert not Job.objects.exists()


def test_vae_morph_needs_both_seeds(enduser):
    from tests.generation.factories import checkpoint_tiny

    checkpoint_tiny("vae")
    response = enduser.post("/generate/", {"kind": "vae", "vae-mode": "interpolate", "vae-steps": "4"})

    page = text_of(response)
    assert "请输入要变换到的种子" in page and "渐变需要起始种子" in page


def test_a_morph_field_over_its_limit_gets_that_error_alone(enduser, settings):
    from tests.generation.factories import checkpoint_tiny

    checkpoint_tiny("vae")
    steps = settings.GENERATION_LIMITS["max_interpolation_steps"] + 1
    response = enduser.post(
        "/generate/",
        {"kind": "vae", "vae-mode": "interpolate", "vae-seed": "1", "vae-interpolate_to_seed": "2", "vae-steps": steps},
        HTTP_ACCEPT_LANGUAGE="en",
    )

    page = text_of(response)
    assert f"less than or equal to {steps - 1}" in page
    assert "Enter how many steps to make" not in page
    assert not Job.objects.exists()


def test_a_prompt_the_service_rejects_is_a_field_error(enduser, serving, settings):
    too_long = "春" * (settings.GENERATION_LIMITS["max_prompt_chars"] + 1)

    response = enduser.post("/generate/", {"kind": "lm", "lm-tune": "慢词", "lm-opening": too_long})

    assert response.status_code == 400
    assert not Job.objects.exists()


def test_over_quota_is_a_clear_message_not_an_error_page(enduser, serving, settings):
    settings.GENERATION_DAILY_QUOTA = 1
    job_make(user_of(enduser))

    page = text_of(enduser.get("/generate/"))
    response = enduser.post("/generate/", {"kind": "gan", "gan-digit": "1", "gan-count": "1"})

    assert "今天的生成次数已用完" in page
    assert response.status_code == 400
    assert "今天的 1 次生成额度" in text_of(response) or "1" in text_of(response)
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
    assert "提交任务过于频繁" in text_of(response)
    assert Job.objects.count() == 2


def test_a_kind_without_a_trained_net_says_so_once_and_cannot_be_submitted(enduser, audit_log):
    page = text_of(enduser.get("/generate/?kind=lm"))
    response = enduser.post("/generate/", {"kind": "lm", "lm-tune": "浣溪沙", "lm-opening": "春"})

    assert 'class="unavailable"' in page and "disabled" in page.split('type="submit"')[-1].split(">")[0]
    assert response.status_code == 400
    text = text_of(response)
    reason = "还没有通过质量检查的网络为它服务"
    assert text.count(reason) == 1
    assert audit_log.get(event_type="generation.refused").payload_data["stage"] == "policy"


# ------------------------------------------------------------------------------
# Text to a tune, every parameter, generating again
# ------------------------------------------------------------------------------
def test_the_text_form_offers_the_tunes_of_the_serving_model_with_their_forms(enduser, serving):
    page = text_of(enduser.get("/generate/?kind=lm", HTTP_ACCEPT_LANGUAGE="en"))

    assert '<option value="测试调">测试调 · 3，3。 (8 characters)</option>' in page
    assert 'value="慢词"' in page and 'name="lm-opening"' in page
    assert 'name="lm-prompt"' not in page and 'name="lm-length"' not in page


def test_an_opening_that_does_not_fit_the_tune_is_a_field_error_in_words(enduser, serving):
    response = enduser.post(
        "/generate/", {"kind": "lm", "lm-tune": "测试调", "lm-opening": "春风明月"}, HTTP_ACCEPT_LANGUAGE="en"
    )

    assert response.status_code == 400
    assert "Line 1 of 测试调 has 3 characters; the opening&#x27;s is longer." in text_of(response)
    assert not Job.objects.exists()


def test_the_job_page_shows_every_parameter_and_the_place_in_the_queue(enduser):
    user = user_of(enduser)
    job_make(user, status=Job.Status.QUEUED, kind="vae", params={"interpolate_to_seed": 42, "steps": 6})
    mine = job_make(user, status=Job.Status.QUEUED, kind="vae", params={"interpolate_to_seed": 9, "steps": 5}, seed=3)

    page = text_of(enduser.get(f"/jobs/{mine.public_id}/", HTTP_ACCEPT_LANGUAGE="en"))
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
    job = job_make(user_of(enduser), kind=kind, params=params, seed=seed)

    page = text_of(enduser.get(f"/generate/?again={job.public_id}"))

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
    job = job_make(user_of(other), kind="gan", params={"digit": 8, "count": 3})

    page = text_of(enduser.get(f"/generate/?again={job.public_id}"))

    assert 'value="8" checked' not in page and 'name="gan-count" value="4"' in page

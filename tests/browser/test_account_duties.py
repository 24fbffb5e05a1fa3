"""In a real browser: real-name verification at sign-up, a minor reaching their daily limit, closing an account.

The live server and the tests share one process, so the console SMS backend's outbox is where the test reads the
code a user would get by text message.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from filing.selectors import service_public
from generation import sms
from generation.accounts import closures_complete
from generation.models import AccountClosure, Job, PhoneVerification

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

PASSWORD = "Browser-pass-2468"


@pytest.fixture
def serving(transactional_db):
    from tests.generation.factories import checkpoint_tiny

    return {kind: checkpoint_tiny(kind) for kind in ("gan", "lm")}


def _service(**fields) -> None:
    service = service_public()
    for name, value in fields.items():
        setattr(service, name, value)
    service.save()


def _sign_up(page, username: str, born: str) -> None:
    page.goto("/accounts/signup/")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("电子邮件").fill(f"{username}@example.com")
    page.get_by_label("出生日期").fill(born)
    page.get_by_label("密码", exact=True).fill(PASSWORD)
    page.get_by_label("密码确认").fill(PASSWORD)
    page.get_by_label("我已阅读并接受服务条款和隐私政策。").check()
    page.get_by_role("button", name="创建账户").click()


def _years_ago(years: int) -> str:
    today = timezone.localdate()
    return today.replace(year=today.year - years, day=min(today.day, 28)).isoformat()


def test_sign_up_verify_the_phone_with_the_code_then_generate(page, shoot, serving, celery_worker_thread):
    _service(real_name_required=True)
    sms.outbox.clear()

    _sign_up(page, "shiming", "1991-03-04")

    # Sign-up leads to the verification page; the generate page would refuse until the number is verified.
    page.wait_for_url("**/account/phone/")
    page.get_by_label("手机号码").fill("139 1234 5678")
    page.get_by_role("button", name="发送验证码").click()
    page.wait_for_url("**/account/phone/")
    assert "139****5678" in page.locator("body").inner_text()
    code = re.search(r"\d{6}", sms.outbox[-1].text).group()
    assert sms.outbox[-1].phone == "13912345678"
    shoot(page, "phone-verify")
    page.get_by_label("短信验证码").fill(code)
    page.get_by_role("button", name="验证", exact=True).click()

    page.wait_for_url("**/generate/")
    assert "已验证" in page.locator("body").inner_text()
    assert PhoneVerification.objects.get(user__username="shiming").phone_masked == "139****5678"
    page.get_by_label("3", exact=True).check()
    page.get_by_label("图片数量").fill("1")
    page.get_by_role("button", name="生成").click()
    page.wait_for_url(re.compile(r".*/jobs/[0-9a-f-]+/$"))
    page.wait_for_function(
        "() => document.querySelector('#job-status')?.dataset.status === 'succeeded'", timeout=60_000
    )
    assert Job.objects.get(user__username="shiming").status == Job.Status.SUCCEEDED


def test_an_unverified_user_sees_why_they_cannot_generate(page, serving):
    _service(real_name_required=True)
    _sign_up(page, "weiyan", "1991-03-04")
    page.wait_for_url("**/account/phone/")
    page.goto("/generate/")
    blocked = page.locator("#account-blocked")
    assert "验证手机号码" in blocked.inner_text()
    assert page.get_by_role("button", name="生成").first.is_disabled()


def test_a_minor_signs_up_with_consent_and_reaches_the_daily_limit(page, shoot, serving, settings):
    _service(minors_allowed=True)
    settings.MINOR_DAILY_JOBS = 1
    settings.MINOR_NIGHT_START = settings.MINOR_NIGHT_END = "00:00"  # no night hours whenever the test runs

    _sign_up(page, "xiaoming", _years_ago(14))

    page.wait_for_url("**/account/guardian/")
    limits = page.locator("#minor-limits").inner_text()
    assert "每天最多生成 1 次" in limits and "解除" in limits
    page.get_by_label("监护人姓名").fill("王芳")
    page.get_by_label("监护人手机号码").fill("13700001111")
    page.get_by_label(re.compile("我是该用户的父母或其他监护人")).check()
    shoot(page, "guardian-consent")
    page.get_by_role("button", name="表示同意").click()

    page.wait_for_url("**/generate/")
    assert "未成年人模式" in page.locator("#minor-mode").inner_text()
    page.get_by_label("5", exact=True).check()
    page.get_by_label("图片数量").fill("1")
    page.get_by_role("button", name="生成").click()
    page.wait_for_url(re.compile(r".*/jobs/[0-9a-f-]+/$"))

    page.goto("/generate/")
    assert "1 / 1" in page.locator("#quota").inner_text() or "已用 1" in page.locator("#quota").inner_text()
    assert page.locator("p.error-box[role=alert]").filter(has_text="午夜").count() == 1
    assert page.get_by_role("button", name="生成").first.is_disabled()
    shoot(page, "minor-limit")
    assert Job.objects.filter(user__username="xiaoming").count() == 1


def test_closing_an_account(page, shoot, serving):
    _sign_up(page, "likai", "1988-08-08")
    page.wait_for_url("**/generate/")
    page.goto("/account/")
    section = page.locator("section", has=page.locator("#close-account"))
    assert "审计日志" in section.inner_text()
    section.get_by_label("您的密码").fill(PASSWORD)
    section.get_by_label(re.compile("是的，注销我的账户")).check()
    shoot(page, "account-close")
    section.get_by_role("button", name="注销我的账户").click()

    assert "您的账户将于" in page.locator("#closure-scheduled").inner_text()
    shoot(page, "account-closure-scheduled")
    closure = AccountClosure.objects.get(user__username="likai")
    assert closure.pending

    # After the cooling-off period the periodic task closes it; the name and password no longer sign in.
    assert closures_complete(now=closure.effective_at + timedelta(seconds=1)) == 1
    page.goto("/accounts/login/")
    page.get_by_label("用户名").fill("likai")
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name=re.compile("登录")).click()
    assert page.url.endswith("/accounts/login/")
    assert page.locator(".errorlist, .error-box").count() >= 1

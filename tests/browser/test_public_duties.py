"""The service's duties to the public, in a real browser: the complaint channel answered by an operator, the
warning before a suspension and the suspended banner, and an emergency stop as an end user sees it.

Operators work in the Django admin in a browser tab of their own (own cookies); the visitor or end user in
the ``page`` tab. No worker runs: refused inputs and stopped generation never reach one.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.utils import timezone

from filing.models import Complaint, Service
from generation.models import Job, Suspension
from tests.browser.conftest import csp_watch

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

PASSWORD = "Browser-pass-2468"
OPERATOR_PASSWORD = "pw-for-tests-123"  # the password ``user_with_role`` gives
PHONE = "010-12345678"
EMAIL = "ts@example.cn"
BLOCKED_WORD = "暴力词"


@pytest.fixture
def serving(transactional_db):
    from tests.generation.factories import checkpoint_tiny

    return {kind: checkpoint_tiny(kind) for kind in ("gan", "lm")}


@pytest.fixture
def blocked_word(transactional_db) -> Iterator[str]:
    """A keyword input moderation blocks; the process-wide moderator is reset before and after."""
    from filing.safety.services import keyword_create
    from generation.moderation import default_moderator_set

    keyword_create(keyword=BLOCKED_WORD, risk_code="A.1.6", actor="browser-test")
    default_moderator_set(None)
    yield BLOCKED_WORD
    default_moderator_set(None)


@pytest.fixture
def operator_page(browser: Any, live_server: Any, user_with_role: Any) -> Iterator[Any]:
    """A second browser tab, with its own cookies, where an operator signed in to the admin."""
    from genai_platform.roles import Role

    user_with_role(Role.OPERATOR, "operator")
    context = browser.new_context(
        base_url=live_server.url, locale="zh-CN", viewport={"width": 1280, "height": 900}, timezone_id="Asia/Shanghai"
    )
    context.set_default_timeout(20_000)
    violations = csp_watch(context)
    tab = context.new_page()
    tab.goto("/admin/login/?next=/admin/")
    tab.get_by_label("用户名").fill("operator")
    tab.get_by_label("密码").fill(OPERATOR_PASSWORD)
    tab.get_by_role("button", name="登录").click()
    tab.wait_for_url("**/admin/")
    yield tab
    context.close()
    assert violations == [], "\n".join(violations)


def _sign_up(page: Any, username: str) -> None:
    page.goto("/")
    page.get_by_role("link", name="注册后开始").click()
    page.get_by_label("用户名").fill(username)
    page.get_by_label("电子邮件").fill(f"{username}@example.com")
    born = page.locator("input[name=date_of_birth]")  # an adult, where the form asks for the date of birth
    if born.count():
        born.fill("1990-05-17")
    page.get_by_label("密码", exact=True).fill(PASSWORD)
    page.get_by_label("密码确认").fill(PASSWORD)
    page.get_by_label("我已阅读并接受服务条款和隐私政策。").check()
    page.get_by_role("button", name="创建账户").click()
    page.wait_for_url("**/generate/")


def _submit_opening(page: Any, opening: str) -> str:
    """Ask the language model for a piece with ``opening``; returns the text of the refusal on the job page."""
    page.goto("/generate/?kind=lm")
    page.get_by_label("词牌").select_option("慢词")
    page.get_by_label("开头（可选）").fill(opening)
    page.get_by_role("button", name="生成").click()
    page.wait_for_url(re.compile(r".*/jobs/[0-9a-f-]+/$"))
    assert page.locator("#job-status").get_attribute("data-status") == "refused"
    return page.locator(".error-box[role=alert]").inner_text()


# ------------------------------------------------------------------------------
# 1. The complaint channel: anyone complains, an operator answers, the complainant reads the answer
# ------------------------------------------------------------------------------
def test_an_anonymous_complaint_is_answered_by_an_operator_and_tracked_by_its_number(
    page, shoot, operator_page, audit_log
):
    from django.core.cache import cache

    from tests.generation.factories import service_serving

    service = service_serving()
    Service.objects.filter(pk=service.pk).update(complaint_phone=PHONE, complaint_email=EMAIL)
    cache.delete("complaints:anonymous:127.0.0.1")  # the hourly allowance of anonymous complaints, kept in files

    # Given an anonymous visitor on the complaint page, who sees how to reach the service
    page.goto("/complaints/")
    assert page.get_by_role("link", name=PHONE).get_attribute("href") == f"tel:{PHONE}"
    assert page.get_by_role("link", name=EMAIL).get_attribute("href") == f"mailto:{EMAIL}"

    # When they send a general complaint with a way to answer them
    page.get_by_label("如何答复您").fill("visitor@example.cn")
    page.get_by_label("投诉类型").select_option(label="其他问题")
    page.get_by_label("发生了什么").fill("生成的文字让人误解，请核实。")
    page.get_by_role("button", name="提交").click()
    page.wait_for_url("**/complaints/")

    # Then they get the complaint's number and the date it will be answered by
    message = page.locator(".messages").inner_text()
    complaint = Complaint.objects.get()
    due = timezone.localtime(complaint.due_at)
    assert f"您的投诉编号是 {complaint.number}" in message
    assert due.strftime("%Y-%m-%d %H:%M") in message
    assert complaint.due_at - complaint.received_at == timedelta(days=settings.COMPLAINT_RESPONSE_DAYS)
    assert (complaint.user_id, complaint.contact, complaint.category) == ("", "visitor@example.cn", "other")
    assert complaint.service_id == service.pk and complaint.status == Complaint.Status.RECEIVED
    shoot(page, "complaint-anonymous")

    # When an operator opens it in the admin, answers it and marks it resolved
    operator_page.goto("/admin/filing/complaint/")
    operator_page.get_by_role("link", name=complaint.number, exact=True).click()
    operator_page.wait_for_url(f"**/admin/filing/complaint/{complaint.pk}/change/")
    assert "生成的文字让人误解" in operator_page.get_by_label("详情").input_value()
    operator_page.get_by_label("状态").select_option(label="已办结")
    operator_page.get_by_label("处理结果").fill("已核实并更正相关内容，感谢您的反馈。")
    shoot(operator_page, "complaint-admin-answer")
    operator_page.get_by_role("button", name="保存", exact=True).click()
    operator_page.wait_for_url("**/admin/filing/complaint/")
    assert "成功" in operator_page.locator(".messagelist").inner_text()
    complaint.refresh_from_db()
    assert complaint.status == Complaint.Status.RESOLVED
    assert complaint.resolution == "已核实并更正相关内容，感谢您的反馈。"
    assert complaint.resolved_at is not None and complaint.handler == "operator"
    resolved = audit_log.get(event_type="complaint.resolved")
    assert resolved.actor_username == "operator" and resolved.subject_id == str(complaint.pk)
    assert resolved.payload_data["action"] == "resolved"

    # Then the visitor, with the number and the contact they gave, reads the answer
    page.get_by_role("link", name="查询投诉处理进度").click()
    page.wait_for_url("**/complaints/track/")
    page.get_by_label("投诉编号").fill(complaint.number)
    page.get_by_label("您留下的联系方式").fill("someone-else@example.cn")
    page.get_by_role("button", name="查询").click()
    assert "没有与此编号和联系方式相符的投诉" in page.get_by_role("alert").inner_text()
    assert page.locator("#complaint-answer").count() == 0

    page.get_by_label("投诉编号").fill(complaint.number.lower())
    page.get_by_label("您留下的联系方式").fill("Visitor@Example.cn")
    page.get_by_role("button", name="查询").click()
    assert page.locator("#found").inner_text() == complaint.number
    assert page.locator("#complaint-status").inner_text() == "已办结"
    assert page.locator("#complaint-answer").inner_text() == "已核实并更正相关内容，感谢您的反馈。"
    assert due.strftime("%Y-%m-%d %H:%M") in page.locator("dl.facts").inner_text()
    shoot(page, "complaint-tracked")
    assert audit_log.filter(event_type="complaint.received", subject_id=str(complaint.pk)).count() == 1


# ------------------------------------------------------------------------------
# 2. Refused inputs: a warning with how many more would suspend, then the suspension and its banner
# ------------------------------------------------------------------------------
def test_refusals_warn_before_the_suspension_and_the_suspended_banner_says_why_how_long_and_where_to_appeal(
    page, shoot, serving, blocked_word, audit_log
):
    from filing.safety.selectors import safety_config

    config = safety_config()
    in_a_row = config.suspension_consecutive_refusals
    assert 1 < in_a_row < config.suspension_refusals_per_day  # the rule met here is the one "in a row"
    _sign_up(page, "sun")

    # When the user's openings are refused, each refusal says how many more would suspend the account
    for left in range(in_a_row - 1, 0, -1):
        refusal = _submit_opening(page, f"请写一段{blocked_word}")
        assert "此请求未被执行" in refusal and blocked_word not in refusal
        assert f"如果您的请求再有 {left} 次被拒绝，您的账户将被暂停使用。" in refusal
        if left == in_a_row - 1:
            shoot(page, "refusal-warning")
    assert not Suspension.objects.exists()

    # And the last one says it suspended the account, why, and where to appeal
    refusal = _submit_opening(page, f"请写一段{blocked_word}")
    reason = f"连续 {in_a_row} 次请求因违反内容规则被拒绝。"
    assert f"这次拒绝导致您的账户被暂停使用：{reason}" in refusal
    assert "投诉举报页面申诉" in refusal and "如果您的请求再有" not in refusal
    suspension = Suspension.objects.get(user__username="sun", lifted_at__isnull=True)
    assert (suspension.rule, suspension.violations, suspension.reason) == ("consecutive", in_a_row, reason)
    assert Job.objects.filter(user__username="sun").exclude(status=Job.Status.REFUSED).count() == 0
    event = audit_log.get(event_type="user.suspended")
    assert event.subject_id == str(suspension.user_id) and event.payload_data["violations"] == in_a_row

    # Then /generate/ shows the suspended banner: since when and why, how long, and the way to appeal
    page.goto("/generate/")
    banner = page.locator("#suspended")
    assert banner.get_attribute("role") == "alert"
    text = banner.inner_text()
    since = timezone.localtime(suspension.created_at).strftime("%Y-%m-%d %H:%M")
    assert "您的账户暂时不能生成内容。" in text
    assert f"于 {since} 暂停：{reason}" in text
    assert "暂停将持续到运营人员解除为止。" in text
    assert page.get_by_role("button", name="生成").is_disabled()
    shoot(page, "suspended-banner")
    appeal = banner.get_by_role("link", name="通过投诉举报页面申诉")
    assert appeal.get_attribute("href") == "/complaints/"
    appeal.click()
    page.wait_for_url("**/complaints/")
    assert page.get_by_label("如何答复您").is_visible()


# ------------------------------------------------------------------------------
# 3. Emergency stop: an operator stops the public service; the end user sees it and cannot generate
# ------------------------------------------------------------------------------
def test_an_emergency_stop_by_an_operator_pauses_generation_for_the_end_user(
    page, shoot, serving, operator_page, audit_log
):
    from filing.selectors import service_public

    service = service_public()
    assert service is not None and service.generation_stopped_at is None
    _sign_up(page, "zhou")

    # Given an end user who may generate
    page.goto("/generate/")
    assert page.locator("#paused").count() == 0
    assert page.get_by_role("button", name="生成").is_enabled()

    # When an operator stops generation of the public service from the service list, with a reason
    operator_page.goto("/admin/filing/service/")
    operator_page.locator("#result_list tbody tr", has_text=service.name).locator("input.action-select").check()
    operator_page.locator("select[name=action]").select_option(label="立即停止生成（填写理由）")
    operator_page.get_by_label("理由／备注").fill("发现有害输出，内部排查")
    operator_page.get_by_role("button", name="执行").click()
    assert "终端用户会看到服务暂停" in operator_page.locator(".messagelist").inner_text()
    shoot(operator_page, "emergency-stop-admin")
    service.refresh_from_db()
    assert service.generation_stopped_at is not None and service.generation_stopped_by == "operator"
    stop = audit_log.get(event_type="incident.generation_stopped")
    assert stop.actor_username == "operator"
    assert (stop.subject_kind, stop.subject_id) == ("filing.service", str(service.pk))
    assert stop.payload_data == {"scope": "service", "reason": "发现有害输出，内部排查"}

    # Then the end user's page says in plain words that generation is stopped, without the internal reason
    page.goto("/generate/")
    notice = page.locator("#paused")
    assert notice.get_attribute("role") == "alert"
    assert "生成功能暂时停止。" in notice.inner_text() and "请稍后再试" in notice.inner_text()
    assert "内部排查" not in page.locator("main").inner_text()
    generate = page.get_by_role("button", name="生成")
    assert generate.is_disabled()
    shoot(page, "emergency-stop")

    # And a submission sent anyway (the form posted past the disabled button) makes no job
    with page.expect_navigation() as sent:
        page.locator("form[data-kind=gan]").evaluate("form => form.submit()")
    assert sent.value.status == 400
    assert page.locator("#paused").is_visible()
    assert not Job.objects.filter(user__username="zhou").exists()
    refused = audit_log.get(event_type="generation.refused")
    assert refused.actor_username == "zhou" and refused.payload_data["stage"] == "policy"

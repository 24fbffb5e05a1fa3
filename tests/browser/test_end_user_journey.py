"""An end user in a real browser: sign up, generate, watch progress, download, report, find it again.

The server is a live one, the worker a real one (``celery_worker_thread``), the nets tiny and
untrained (``checkpoint_tiny``): the journey is real, only the pictures are noise.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from filing.models import Complaint
from generation.models import Job

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

PASSWORD = "Browser-pass-2468"


@pytest.fixture
def serving(transactional_db):
    from tests.generation.factories import checkpoint_tiny

    return {kind: checkpoint_tiny(kind) for kind in ("gan", "lm")}


def _sign_up(page, shoot=None, username: str = "lin") -> None:
    page.goto("/")
    if shoot:
        shoot(page, "home")
    page.get_by_role("link", name="注册后开始").click()
    page.get_by_label("用户名").fill(username)
    page.get_by_label("电子邮件").fill(f"{username}@example.com")
    page.get_by_label("出生日期").fill("1990-05-20")
    page.get_by_label("密码", exact=True).fill(PASSWORD)
    page.get_by_label("密码确认").fill(PASSWORD)
    page.get_by_label("我已阅读并接受服务条款和隐私政策。").check()
    if shoot:
        shoot(page, "signup")
    page.get_by_role("button", name="创建账户").click()
    page.wait_for_url("**/generate/")


def _wait_finished(page) -> str:
    status = page.locator("#job-status")
    page.wait_for_function(
        "() => ['succeeded','failed','refused','cancelled'].includes("
        "document.querySelector('#job-status')?.dataset.status)",
        timeout=60_000,
    )
    return status.get_attribute("data-status")


def test_sign_up_generate_watch_download_report_and_find_in_history(page, shoot, serving, celery_worker_thread):
    from generation.labels.verify import verify_file

    # Given a new visitor who signs up
    _sign_up(page, shoot)
    assert "今日额度" in page.locator("#quota").inner_text()
    shoot(page, "generate")

    # When they ask the GAN for two sevens
    page.get_by_label("7", exact=True).check()
    page.get_by_label("图片数量").fill("2")
    page.get_by_role("button", name="生成").click()
    page.wait_for_url(re.compile(r".*/jobs/[0-9a-f-]+/$"))
    job_url = page.url
    navigations: list[str] = []
    page.on("framenavigated", lambda frame: navigations.append(frame.url))

    # Then the page follows the job to its end without reloading
    assert page.locator(".steps li").count() == 3
    assert _wait_finished(page) == "succeeded"
    assert navigations == []
    assert page.url == job_url
    images = page.locator(".outputs img")
    assert images.count() == 2
    assert page.locator(".output .ai-badge").count() == 2
    page.wait_for_function("() => [...document.querySelectorAll('.outputs img')].every(i => i.naturalWidth > 0)")
    shoot(page, "job-image")

    # And the page names every parameter, and the images open large in a gallery
    parameters = page.locator("dl.parameters").inner_text()
    assert "数字" in parameters and "7" in parameters and "图片数量" in parameters and "随机种子" in parameters
    page.locator(".outputs a[data-zoom]").first.click()
    dialog = page.locator("dialog.zoom-dialog")
    assert dialog.is_visible() and "1 / 2" in dialog.inner_text()
    page.keyboard.press("ArrowRight")
    assert "2 / 2" in dialog.inner_text()
    shoot(page, "job-image-zoom")
    page.keyboard.press("Escape")
    assert not dialog.is_visible()

    # And the download is the labelled PNG the worker stored
    with page.expect_download() as info:
        page.get_by_role("link", name=re.compile("下载")).first.click()
    download = info.value
    data = Path(download.path()).read_bytes()
    assert data.startswith(b"\x89PNG")
    assert download.suggested_filename.startswith("ai-generated-")
    assert verify_file(data, filename=download.suggested_filename).genuine

    # And the output can be reported
    page.get_by_role("link", name="举报此输出").first.click()
    shoot(page, "report")
    page.get_by_label("AI 标识缺失或错误").check()
    page.get_by_label("详细说明（可选）").fill("浏览器测试")
    page.get_by_role("button", name="提交举报").click()
    page.wait_for_url(job_url)
    assert "报告编号" in page.locator(".messages").inner_text()
    report = Complaint.objects.get()
    assert (report.category, report.channel) == ("label", "web")
    assert download.suggested_filename == f"ai-generated-{report.produce_id}.png"

    # And "generate again" opens the form with every parameter of the job
    page.get_by_role("link", name="再次生成").click()
    assert page.get_by_label("7", exact=True).is_checked() and page.get_by_label("图片数量").input_value() == "2"

    # When they ask the language model for a piece to a tune, with an opening
    page.get_by_role("navigation", name="主导航").get_by_role("link", name="生成").click()
    page.get_by_role("link", name="语言模型生成文本").click()
    page.get_by_label("词牌").select_option("长短句")
    page.get_by_label("开头（可选）").fill("春风")
    page.get_by_role("button", name="生成").click()
    page.wait_for_url(re.compile(r".*/jobs/[0-9a-f-]+/$"))
    assert _wait_finished(page) == "succeeded"
    assert page.locator(".text-out").count() == 1
    assert page.locator(".output .ai-badge").count() >= 1
    assert "长短句" in page.locator("dl.parameters").inner_text()
    piece = page.locator(".text-out").inner_text()
    assert piece.startswith("长短句\n春风")
    shoot(page, "job-text")
    with page.expect_download() as info:
        page.get_by_role("link", name=re.compile("下载")).first.click()
    text_file = Path(info.value.path()).read_bytes()
    assert verify_file(text_file, filename=info.value.suggested_filename).genuine

    # Then both jobs are in the history, newest first, the image one with a thumbnail
    page.get_by_role("navigation", name="主导航").get_by_role("link", name="历史").click()
    rows = page.locator("table.history tbody tr")
    assert rows.count() == 2
    assert "语言模型" in rows.nth(0).inner_text()
    assert "春风" in rows.nth(0).locator(".text-preview").inner_text()  # the text itself, not only its kind
    assert rows.nth(1).locator("img").count() == 1
    shoot(page, "history")
    page.get_by_label("类型").select_option("lm")
    page.locator("form.filters button[type=submit]").click()
    assert page.locator("table.history tbody tr").count() == 1
    assert Job.objects.filter(status=Job.Status.SUCCEEDED).count() == 2

    # And the way out says what it does: sign out, not close the account
    assert page.get_by_role("button", name="退出登录").is_visible()

    # And the account page shows the training choice, reachable from the navigation
    page.get_by_role("link", name="账户设置").click()
    assert "不会用于训练" in page.locator("#training-status").inner_text()
    shoot(page, "account")


def test_a_blocked_prompt_is_refused_with_the_reason_in_plain_words(page, shoot, serving, celery_worker_thread):
    from filing.safety.services import keyword_create
    from generation.moderation import default_moderator_set

    keyword_create(keyword="暴力词", risk_code="A.1.6", actor="browser-test")
    default_moderator_set(None)
    _sign_up(page, username="zhao")

    page.goto("/generate/?kind=lm")
    page.get_by_label("词牌").select_option("慢词")
    page.get_by_label("开头（可选）").fill("请写一段暴力词")
    page.get_by_role("button", name="生成").click()
    page.wait_for_url(re.compile(r".*/jobs/[0-9a-f-]+/$"))

    assert _wait_finished(page) == "refused"
    alert = page.get_by_role("alert").inner_text()
    assert "拒绝" in alert and "暴力词" not in alert
    shoot(page, "job-refused")


def test_switching_the_language_to_english_and_back(page, shoot, serving):
    page.goto("/")
    assert page.locator("html").get_attribute("lang") == "zh-hans"

    with page.expect_navigation():
        page.get_by_label("语言").select_option("en")

    assert page.locator("html").get_attribute("lang") == "en"
    assert page.get_by_role("link", name="Sign up to start").is_visible()
    shoot(page, "home-english")
    with page.expect_navigation():
        page.get_by_label("Language").select_option("zh-hans")
    assert page.locator("html").get_attribute("lang") == "zh-hans"


def test_pages_work_from_the_keyboard_alone(page, serving):
    page.goto("/")

    page.keyboard.press("Tab")
    skip = page.locator(":focus")
    assert skip.inner_text() == "跳到主要内容"
    page.keyboard.press("Enter")
    # Following the link is a same-page navigation that the browser may commit after the key press returns.
    page.wait_for_url("**#main")

    page.goto("/accounts/login/")
    page.get_by_label("用户名").focus()
    outline = page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"


def test_the_job_page_follows_queued_running_done_without_reloading(page, shoot, serving):
    from generation import services

    # Given a job that no worker has taken yet (this test runs none)
    _sign_up(page, username="qian")
    for kind in ("vae", "lm"):
        page.goto(f"/generate/?kind={kind}")
        shoot(page, f"generate-{kind}")
    page.goto("/generate/?kind=vae")
    assert page.get_by_label("图片数量").is_visible() and not page.get_by_label("第二个种子").is_visible()
    page.get_by_label("从一个种子渐变到另一个种子").check()
    assert page.get_by_label("第二个种子").is_visible() and not page.get_by_label("图片数量").is_visible()
    page.goto("/generate/?kind=gan")
    page.get_by_label("3", exact=True).check()
    page.get_by_label("图片数量").fill("1")
    page.get_by_role("button", name="生成").click()
    page.wait_for_url(re.compile(r".*/jobs/[0-9a-f-]+/$"))
    job = Job.objects.get(user__username="qian")
    navigations: list[str] = []
    page.on("framenavigated", lambda frame: navigations.append(frame.url))
    status = page.locator("#job-status")
    assert status.get_attribute("data-status") == "queued"
    assert page.locator(".steps li[aria-current=step]").inner_text().strip() == "排队"
    shoot(page, "job-queued")

    # When a worker claims it, the page shows it running
    Job.objects.filter(pk=job.pk).update(status=Job.Status.RUNNING)
    page.wait_for_selector('#job-status[data-status="running"]')
    assert "生成中" in page.locator(".steps li[aria-current=step]").inner_text()

    # And when the job runs to the end, the result appears, all without a reload
    Job.objects.filter(pk=job.pk).update(status=Job.Status.QUEUED)
    assert services.job_run(job_id=job.pk, worker="browser-test").status == Job.Status.SUCCEEDED
    page.wait_for_selector('#job-status[data-status="succeeded"]')
    assert page.locator(".outputs img").count() == 1
    assert navigations == []


def test_notice_and_account_pages_render(page, shoot, serving):
    for url, name in [
        ("/accounts/login/", "login"),
        ("/terms/", "terms"),
        ("/privacy/", "privacy"),
        ("/complaints/", "complaints"),
    ]:
        page.goto(url)
        assert page.locator("h1").count() == 1
        shoot(page, name)


def test_the_api_docs_load_nothing_from_outside_the_platform(page, shoot, live_server):
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))

    page.goto("/api/docs/")
    page.wait_for_selector("text=/api/v1/jobs/")
    shoot(page, "api-docs")

    outside = [url for url in requested if url.startswith(("http:", "https:")) and not url.startswith(live_server.url)]
    assert outside == [], outside

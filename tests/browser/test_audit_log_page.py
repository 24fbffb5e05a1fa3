"""The auditors' log page in a real browser: a quick range, a search, a histogram bar that narrows the range, and
the integrity banner that follows a verification (run by a real worker) to its result without a reload."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any
from unittest import mock
from urllib.parse import parse_qs, urlsplit

import pytest
from django.utils import timezone
from openpyxl import load_workbook

from audit import services
from audit.progress import verification_forget
from audit.standalone import verify_export
from genai_platform.roles import Role

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

PASSWORD = "pw-for-tests-123"  # the password ``user_with_role`` gives
WIDE_DESKTOP = {"width": 1366, "height": 900}


def _write(when: Any, reason: str, actor: str) -> int:
    with mock.patch("django.utils.timezone.now", return_value=when):
        return services.generation_event(
            event_type="generation.refused",
            actor_username=actor,
            decision="refused",
            risk_codes=["A.1.6"],
            payload={"reason": reason, "stage": "input_moderation"},
        ).seq


def test_range_search_bar_and_live_verification(page, shoot, user_with_role, celery_worker_thread, settings, tmp_path):
    # A fresh log of this test's database, with no seal kept outside it from an earlier run.
    settings.AUDIT_ANCHOR_PATH = str(tmp_path / "last-seal.json")
    verification_forget()  # and no verification reported running by an earlier run's worker
    now = timezone.now()
    recent = [_write(now - timedelta(minutes=20 + i), "提示词含有暴力内容", "browser-a") for i in range(3)]
    older = _write(now - timedelta(days=3, hours=2), "提示词含有暴力内容", "browser-b")
    _write(now - timedelta(minutes=5), "an ordinary refusal", "browser-c")
    services.seals_make()

    user_with_role(Role.AUDITOR, "auditor")
    page.goto("/accounts/login/?next=/audit/")
    page.get_by_label("用户名").fill("auditor")
    page.get_by_label("密码").fill(PASSWORD)
    page.locator("main button[type=submit]").click()
    page.wait_for_url("**/audit/")

    # A quick range: the last 7 days.
    page.locator('nav.presets a[href*="range=7d"]').click()
    page.wait_for_url("**range=7d**")
    assert page.locator("nav.presets a[aria-current]").get_attribute("href").endswith("range=7d")

    # A search, which the URL keeps with the range.
    page.locator("input[name=search]").fill("暴力内容")
    page.locator("input[name=search]").press("Enter")
    page.wait_for_url("**search=**")
    query = parse_qs(urlsplit(page.url).query)
    assert query["search"] == ["暴力内容"] and query["range"] == ["7d"]
    shown = {int(n) for n in page.locator("#log-records tbody tr td:first-child a").all_inner_texts()}
    assert shown == {*recent, older}

    # The histogram: 7 days in 3-hour bars; the last bar holding records narrows the log to its 3 hours.
    bars = page.locator("svg.histogram a.bar")
    assert bars.count() >= 56
    labels = bars.evaluate_all("links => links.map(a => a.getAttribute('aria-label'))")
    full = [i for i, label in enumerate(labels) if not label.endswith(": 0")]
    assert len(full) == 2
    bars.nth(full[-1]).click()
    page.wait_for_url("**range=custom**")
    query = parse_qs(urlsplit(page.url).query)
    assert query["search"] == ["暴力内容"] and "time_from" in query and "time_to" in query
    shown = {int(n) for n in page.locator("#log-records tbody tr td:first-child a").all_inner_texts()}
    assert shown == set(recent)
    assert page.locator("#range-from").input_value() == query["time_from"][0][:16]

    page.set_viewport_size(WIDE_DESKTOP)
    shoot(page, "audit-log")

    # Verify now: the banner follows the worker's verification and shows its result; the page never reloads.
    page.evaluate("window.stillTheSamePage = true")
    clicked = page.evaluate("Date.now()")
    page.locator("#integrity button[type=submit]").click()
    # (htmx keeps the old banner beside the new one for a moment while it swaps them.)
    page.wait_for_function(
        "since => { const b = [...document.querySelectorAll('[id=integrity]')];"
        " const t = b.length === 1 && b[0].querySelector('.last-check time');"
        " return t && Date.parse(t.getAttribute('datetime')) >= since - 1000; }",
        arg=clicked,
        timeout=60_000,
    )
    page.wait_for_selector("#integrity.ok:not(.htmx-settling)")  # its classes come last, when the swap settles
    assert page.evaluate("window.stillTheSamePage") is True
    banner = page.locator("#integrity")
    assert banner.locator(".last-check strong").inner_text() in ("OK", "通过")  # the browser's language decides
    assert banner.locator(".last-check time").get_attribute("title").endswith("(Asia/Shanghai, UTC+08:00)")
    assert banner.get_attribute("hx-trigger") is None  # it stopped asking
    shoot(page, "audit-log-verified")


def test_an_xlsx_export_comes_back_at_once_and_its_manifest_downloads_from_the_list(
    page, shoot, user_with_role, settings, tmp_path
):
    settings.AUDIT_ANCHOR_PATH = str(tmp_path / "last-seal.json")
    now = timezone.now()
    for i in range(3):
        _write(now - timedelta(minutes=5 + i), "an ordinary refusal", "browser-export")
    services.seals_make()

    user_with_role(Role.AUDITOR, "auditor")
    page.goto("/accounts/login/?next=/audit/")
    page.get_by_label("用户名").fill("auditor")
    page.get_by_label("密码").fill(PASSWORD)
    page.locator("main button[type=submit]").click()
    page.wait_for_url("**/audit/")
    # This test's records only: the log outlives the flush between tests, and a large export would run apart.
    page.goto("/audit/?actor=browser-export")

    # A small workbook is the response itself, as CSV and JSONL are; its name carries Beijing time.
    with page.expect_download() as started:
        page.locator("form.export button[value=xlsx]").click()
    workbook = started.value
    assert re.fullmatch(r"audit-\d{8}T\d{6}\+0800-[0-9a-f]{8}\.xlsx", workbook.suggested_filename)
    workbook_path = tmp_path / workbook.suggested_filename
    workbook.save_as(workbook_path)
    sheet = load_workbook(workbook_path, read_only=True).worksheets[0]
    assert sum(1 for row in sheet.iter_rows(min_row=2, values_only=True) if any(row)) == 3

    # The list of exports offers the file and its signed manifest side by side.
    page.goto("/audit/exports/")
    shoot(page, "audit-exports")
    row = page.locator("table.log tbody tr").first
    with page.expect_download() as fetched:
        row.locator('a[href$="/manifest.json"]').click()
    manifest_path = tmp_path / fetched.value.suggested_filename
    fetched.value.save_as(manifest_path)
    assert manifest_path.name == workbook.suggested_filename + ".manifest.json"
    report = verify_export.verify(workbook_path, manifest_path, services.public_key_b64())
    assert report.ok, report.problems

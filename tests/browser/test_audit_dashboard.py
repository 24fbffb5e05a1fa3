"""The auditors' dashboard in a real browser: a bar of refused requests opens the log narrowed to its stretch and
to refusals, and a log row opens its job's trace, sealed records first; screenshots of both pages."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any
from unittest import mock
from urllib.parse import parse_qs, urlsplit

import pytest
from django.utils import timezone

from audit import services
from genai_platform.roles import Role

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

PASSWORD = "pw-for-tests-123"  # the password ``user_with_role`` gives
WIDE_DESKTOP = {"width": 1366, "height": 900}


def _at(when: datetime, **fields: Any) -> int:
    with mock.patch("django.utils.timezone.now", return_value=when):
        return services.generation_event(actor_username="browser-dash", **fields).seq


def test_a_bar_opens_the_log_and_a_row_opens_its_jobs_trace(page, shoot, user_with_role, settings, tmp_path):
    settings.AUDIT_ANCHOR_PATH = str(tmp_path / "last-seal.json")
    when = (timezone.now() - timedelta(minutes=30)).replace(microsecond=0)
    job = str(uuid.uuid4())
    trail = [
        _at(when, event_type="generation.requested", subject=("generation.job", "9", "job 9"), payload={"job_id": job})
    ]
    for i in range(2):
        trail.append(
            _at(
                when + timedelta(seconds=20 + i),
                event_type="generation.succeeded",
                produce_id=f"P-{job[:8]}-{i}",
                payload={"job_id": job, "latency_ms": 1800 + 400 * i},
            )
        )
    # The refusals share one second, so that no bar boundary can fall between them.
    refused = [
        _at(
            when + timedelta(seconds=5, microseconds=1000 * i),
            event_type="generation.refused",
            decision="refused",
            risk_codes=["A.1.6"],
            payload={"reason": "violent", "stage": "input_moderation", "reason_code": "content"},
        )
        for i in range(3)
    ]
    services.seals_make()
    trail.append(
        _at(
            when + timedelta(minutes=1),
            event_type="generation.output_downloaded",
            produce_id=f"P-{job[:8]}-0",
            payload={"output_id": f"P-{job[:8]}-0"},
        )
    )

    user_with_role(Role.AUDITOR, "auditor")
    page.goto("/accounts/login/?next=/audit/dashboards/")
    page.get_by_label("用户名").fill("auditor")
    page.get_by_label("密码").fill(PASSWORD)
    page.locator("main button[type=submit]").click()
    page.wait_for_url("**/audit/dashboards/")
    page.set_viewport_size(WIDE_DESKTOP)
    shoot(page, "audit-dashboard")

    # The refused part of the requests bar that holds the refusals above: the log over its stretch, refusals only.
    bars = page.locator("#requests svg.columns a.bar.s1")
    links = bars.evaluate_all("links => links.map(a => a.getAttribute('href'))")
    local = timezone.localtime(when + timedelta(seconds=5), timezone.get_fixed_timezone(8 * 60)).strftime(
        "%Y-%m-%dT%H:%M:%S"
    )
    index = next(
        i
        for i, link in enumerate(links)
        if parse_qs(urlsplit(link).query)["time_from"][0] <= local < parse_qs(urlsplit(link).query)["time_to"][0]
    )
    bars.nth(index).click()
    page.wait_for_url("**event_type=generation.refused**")
    query = parse_qs(urlsplit(page.url).query)
    assert query["range"] == ["custom"]
    shown = {int(n) for n in page.locator("#log-records tbody tr td:first-child a").all_inner_texts()}
    assert set(refused) <= shown
    types = set(page.locator("#log-records tbody tr td:nth-child(3)").all_inner_texts())
    assert types == {"generation.refused"}

    # A row of the job: its trace, every record in order, sealed ones with a valid proof.
    page.goto(f"/audit/?range=24h&search={job}")
    page.locator(f'#log-records a[href="/audit/trace/job/{job}/"]').first.click()
    page.wait_for_url(f"**/audit/trace/job/{job}/")
    rows = page.locator("#trace-records tbody tr")
    assert [int(n) for n in rows.locator("td:first-child a").all_inner_texts()] == trail
    seals = rows.locator("td.seal").all_inner_texts()
    assert all("证明有效" in text or "proof valid" in text for text in seals[:-1])
    assert "证明有效" not in seals[-1] and "proof valid" not in seals[-1]
    shoot(page, "audit-trace")

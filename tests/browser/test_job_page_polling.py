"""The job page asks for its job's state soon at first, then less and less often, and stops once it is finished.

The browser's clock is Playwright's and stands still between steps, so the waits the page chooses are read
exactly (``Date.now()`` at each request), with no timing of the machine running the test.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model

from genai_platform.roles import Role
from generation.models import Job
from tests.generation.api.helpers import job_make

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

# Notes, in the page, the fake time of each request of the live part and how many have been answered.
_RECORDER = """
window.liveSends = [];
window.liveAnswered = 0;
document.addEventListener("DOMContentLoaded", () => { window.loadedAt = Date.now(); });
document.addEventListener("htmx:beforeRequest", () => window.liveSends.push(Date.now()));
document.addEventListener("htmx:afterRequest", () => { window.liveAnswered += 1; });
"""


def _poll_after(page: Any, milliseconds: int) -> None:
    """Move the page's clock on, then wait until the request due by then has been answered and the next planned."""
    answered, sent = page.evaluate("[window.liveAnswered, window.liveSends.length]")
    page.clock.run_for(milliseconds)
    assert page.evaluate("window.liveSends.length") == sent + 1, f"not one request {milliseconds} ms after the last"
    page.wait_for_function("answered => window.liveAnswered > answered", arg=answered)


def test_the_job_page_backs_off_while_nothing_changes_and_stops_when_finished(
    browser, live_server, client_for, settings
):
    settings.GENERATION_JOB_POLL_FIRST_SECONDS = 0.1
    settings.GENERATION_JOB_POLL_MAX_SECONDS = 2.0
    # Given an end user's queued job that no worker takes (this test runs none)
    client = client_for(Role.END_USER, "zhao")
    job = job_make(get_user_model().objects.get(username="zhao"), status=Job.Status.QUEUED)
    context = browser.new_context(base_url=live_server.url, locale="en")
    context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}])
    context.add_init_script(_RECORDER)
    page = context.new_page()
    page.clock.install(time=0)
    page.clock.pause_at(1_000_000)
    try:
        page.goto(f"/jobs/{job.public_id}/")

        # When nothing changes, the page waits twice as long before each next request, up to the most
        for wait in (100, 200, 400, 800, 1600, 2000, 2000):
            _poll_after(page, wait)
        # then, once the job starts running, it asks soon again: the result may follow quickly
        Job.objects.filter(pk=job.pk).update(status=Job.Status.RUNNING)
        _poll_after(page, 2000)
        _poll_after(page, 100)
        # and when the job is finished it stops asking
        Job.objects.filter(pk=job.pk).update(status=Job.Status.SUCCEEDED)
        _poll_after(page, 200)
        page.clock.run_for(60_000)

        sends = page.evaluate("[window.loadedAt, ...window.liveSends]")
        waits = [later - earlier for earlier, later in zip(sends, sends[1:], strict=False)]
        assert waits == [100, 200, 400, 800, 1600, 2000, 2000, 2000, 100, 200]
        assert page.locator("#job-status").get_attribute("data-status") == "succeeded"
    finally:
        context.close()

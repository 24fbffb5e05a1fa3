"""End-user pages with Django's test client: a job's page and its live part, outputs, reports, history."""

from __future__ import annotations

import re

import pytest

from audit.models import LogEntry
from filing.models import Complaint
from genai_platform.roles import Role
from generation.models import Job
from tests.generation.api.helpers import job_make, output_make
from tests.generation.web.helpers import text_of, user_of

pytestmark = pytest.mark.django_db


# ------------------------------------------------------------------------------
# Job page, live part, outputs
# ------------------------------------------------------------------------------
def test_the_job_page_polls_while_queued_and_the_live_part_answers_by_change(enduser, settings):
    settings.GENERATION_JOB_POLL_FIRST_SECONDS = 0.25
    settings.GENERATION_JOB_POLL_MAX_SECONDS = 3
    job = job_make(user_of(enduser), status=Job.Status.QUEUED)

    page = text_of(enduser.get(f"/jobs/{job.public_id}/"))
    unchanged = enduser.get(f"/jobs/{job.public_id}/live/?seen=queued:1")
    Job.objects.filter(pk=job.pk).update(status=Job.Status.RUNNING)
    changed = enduser.get(f"/jobs/{job.public_id}/live/?seen=queued")
    Job.objects.filter(pk=job.pk).update(status=Job.Status.SUCCEEDED)
    finished = enduser.get(f"/jobs/{job.public_id}/live/?seen=running")

    assert 'hx-trigger="job-poll"' in page and 'aria-live="polite"' in page
    assert 'data-poll-first-ms="250" data-poll-max-ms="3000"' in page
    assert "/static/generation/job_live.js" in page
    assert unchanged.status_code == 204
    assert changed.status_code == 200 and 'data-status="running"' in text_of(changed)
    assert finished.status_code == 286 and 'data-status="succeeded"' in text_of(finished)


def test_a_polling_page_whose_session_ended_stops_polling_with_a_message(client, enduser):
    job = job_make(user_of(enduser), status=Job.Status.QUEUED)

    response = client.get(
        f"/jobs/{job.public_id}/live/?seen=queued",
        HTTP_HX_REQUEST="true",
        HTTP_HX_CURRENT_URL=f"http://testserver/jobs/{job.public_id}/",
    )

    assert response.status_code == 286
    assert f"/accounts/login/?next=/jobs/{job.public_id}/" in text_of(response)


def test_a_finished_job_page_shows_results_with_the_ai_badge_download_and_report(enduser):
    job = job_make(user_of(enduser))
    output = output_make(job)

    page = text_of(enduser.get(f"/jobs/{job.public_id}/"))

    assert "hx-trigger" not in page
    assert "ai-badge" in page
    assert f"/outputs/{output.produce_id}/file/?download=1" in page
    assert f"/outputs/{output.produce_id}/report/" in page
    assert output.produce_id in page


def test_refusal_and_failure_reasons_are_shown_in_plain_words(enduser):
    refused = job_make(user_of(enduser), status=Job.Status.REFUSED, reason="提示词含有违法内容，已拒绝。")
    failed = job_make(user_of(enduser), status=Job.Status.FAILED, reason="Generation failed: out of memory")

    assert "提示词含有违法内容，已拒绝。" in text_of(enduser.get(f"/jobs/{refused.public_id}/"))
    assert "生成时出了问题" in text_of(enduser.get(f"/jobs/{failed.public_id}/"))


def test_another_users_job_and_outputs_are_404(enduser, client_for):
    bob = client_for(Role.END_USER, "bob")
    theirs = job_make(user_of(bob), status=Job.Status.QUEUED)
    output = output_make(job_make(user_of(bob)))

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
    job = job_make(user_of(enduser), status=Job.Status.QUEUED)

    response = enduser.post(f"/jobs/{job.public_id}/cancel/", follow=True)

    job.refresh_from_db()
    assert job.status == Job.Status.CANCELLED
    assert "已取消" in text_of(response)


def test_downloading_an_output_serves_the_file_as_an_attachment_and_records_it(enduser):
    output = output_make(job_make(user_of(enduser)))

    inline = enduser.get(f"/outputs/{output.produce_id}/file/")
    download = enduser.get(f"/outputs/{output.produce_id}/file/?download=1")

    assert inline["Content-Type"] == "image/png" and "attachment" not in inline.get("Content-Disposition", "")
    assert download["Content-Disposition"].startswith("attachment")
    assert b"".join(download.streaming_content).startswith(b"\x89PNG")
    assert LogEntry.objects.filter(event_type="generation.output_downloaded").count() == 1


def test_reporting_an_output_gives_a_report_number(enduser, settings):
    output = output_make(job_make(user_of(enduser)))

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
    assert f"报告编号是 {report.number}" in text_of(response)
    assert LogEntry.objects.filter(event_type="complaint.received", produce_id=output.produce_id).exists()
    assert output.produce_id in text_of(enduser.get("/complaints/"))


# ------------------------------------------------------------------------------
# History
# ------------------------------------------------------------------------------
def test_history_lists_own_jobs_newest_first_with_thumbnails_and_pages(enduser, client_for):
    user = user_of(enduser)
    jobs = [job_make(user) for _ in range(12)]
    output = output_make(jobs[-1])
    job_make(user_of(client_for(Role.END_USER, "bob")))

    first = text_of(enduser.get("/history/"))
    older = re.search(r'href="\?before=([^"]+)" rel="next"', first)
    assert older and 'rel="first"' not in first
    second = text_of(enduser.get(f"/history/?before={older.group(1)}"))

    ids = re.findall(r'href="/jobs/([0-9a-f-]+)/"', first + second)
    assert ids == [str(j.public_id) for j in reversed(jobs)]
    assert f'src="/outputs/{output.produce_id}/file/"' in first
    # The last page links back to the newest and has no older page; a damaged cursor opens the newest page.
    assert 'rel="first"' in second and 'rel="next"' not in second
    assert re.findall(r'href="/jobs/([0-9a-f-]+)/"', text_of(enduser.get("/history/?before=%%%"))) == ids[:10]


def test_history_filters_by_kind_and_status_and_keeps_them_across_pages(enduser):
    user = user_of(enduser)
    wanted = job_make(user, kind="lm", status=Job.Status.FAILED)
    job_make(user, kind="lm", status=Job.Status.SUCCEEDED)
    job_make(user, kind="gan", status=Job.Status.FAILED)

    page = text_of(enduser.get("/history/?kind=lm&status=failed"))

    assert re.findall(r'href="/jobs/([0-9a-f-]+)/"', page) == [str(wanted.public_id)]

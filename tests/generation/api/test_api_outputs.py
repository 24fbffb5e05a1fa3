"""The end-user API's outputs and reports: own-data isolation, downloads and their audit records, reports filed as
complaints."""

from __future__ import annotations

import pytest

from audit.models import LogEntry
from filing.models import Complaint
from tests.generation.api.helpers import error_of, job_make, output_make

pytestmark = pytest.mark.django_db


# ------------------------------------------------------------------------------
# Outputs
# ------------------------------------------------------------------------------
def test_outputs_list_only_ones_own_and_filter_by_job(alice, bob):
    first, second = job_make(alice.user), job_make(alice.user, kind="lm")
    a, b = output_make(first), output_make(second)
    output_make(job_make(bob.user))

    everything = alice.get("/api/v1/outputs/").json()
    of_first = alice.get(f"/api/v1/outputs/?job={first.public_id}").json()

    assert {o["produce_id"] for o in everything["results"]} == {a.produce_id, b.produce_id}
    assert [o["produce_id"] for o in of_first["results"]] == [a.produce_id]
    assert alice.get("/api/v1/outputs/?job=not-a-uuid").status_code == 400


def test_output_metadata_has_media_digest_and_text(alice):
    output = output_make(job_make(alice.user, kind="lm"))

    body = alice.get(f"/api/v1/outputs/{output.produce_id}/").json()

    assert body["media"] == "text"
    assert body["text"] == "春风花月夜"
    assert body["sha256"] == output.sha256
    assert body["size_bytes"] == len("春风花月夜".encode())
    assert body["job"] == str(output.job.public_id)


def test_download_serves_the_stored_file_and_records_it(alice):
    output = output_make(job_make(alice.user))

    response = alice.get(f"/api/v1/outputs/{output.produce_id}/download/", HTTP_ACCEPT="image/png")

    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert f'filename="ai-generated-{output.produce_id}.png"' in response["Content-Disposition"]
    data = b"".join(response.streaming_content)
    assert data.startswith(b"\x89PNG")
    record = LogEntry.objects.get(event_type="generation.output_downloaded")
    assert record.produce_id == output.produce_id and record.actor_username == "alice"


def test_text_downloads_are_utf8_markdown(alice):
    output = output_make(job_make(alice.user, kind="lm"))

    response = alice.get(f"/api/v1/outputs/{output.produce_id}/download/")

    assert response["Content-Type"] == "text/markdown; charset=utf-8"
    assert b"".join(response.streaming_content).decode() == "春风花月夜"


def test_another_users_output_is_a_404_for_metadata_and_download(alice, bob):
    theirs = output_make(job_make(bob.user))

    assert alice.get(f"/api/v1/outputs/{theirs.produce_id}/").status_code == 404
    response = alice.get(f"/api/v1/outputs/{theirs.produce_id}/download/")
    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"
    assert not LogEntry.objects.filter(event_type="generation.output_downloaded").exists()


# ------------------------------------------------------------------------------
# Reports
# ------------------------------------------------------------------------------
def test_reporting_an_output_files_a_complaint_with_a_due_date_and_an_audit_record(alice, settings):
    output = output_make(job_make(alice.user))

    response = alice.post(
        "/api/v1/reports/", {"produce_id": output.produce_id, "reason": "label", "details": "No AI mark."}
    )

    assert response.status_code == 201
    complaint = Complaint.objects.get()
    assert (complaint.produce_id, complaint.user_id, complaint.category, complaint.channel) == (
        output.produce_id,
        str(alice.user.pk),
        "label",
        "api",
    )
    assert (complaint.due_at - complaint.received_at).days == settings.COMPLAINT_RESPONSE_DAYS
    body = response.json()
    assert body["status"] == "received" and body["due_at"]
    record = LogEntry.objects.get(event_type="complaint.received")
    assert record.produce_id == output.produce_id and record.actor_username == "alice"
    assert alice.get("/api/v1/reports/").json()["results"][0]["id"] == complaint.pk


def test_reporting_another_users_output_is_a_404(alice, bob):
    theirs = output_make(job_make(bob.user))

    response = alice.post("/api/v1/reports/", {"produce_id": theirs.produce_id, "reason": "illegal"})

    assert response.status_code == 404
    assert not Complaint.objects.exists()


def test_a_report_needs_a_known_reason(alice):
    output = output_make(job_make(alice.user))

    response = alice.post("/api/v1/reports/", {"produce_id": output.produce_id, "reason": "boring"})

    assert response.status_code == 400
    assert "reason" in error_of(response)["fields"]


def test_users_list_only_their_own_reports(alice, bob):
    output_report = output_make(job_make(bob.user))
    bob.post("/api/v1/reports/", {"produce_id": output_report.produce_id, "reason": "other"})

    assert alice.get("/api/v1/reports/").json()["count"] == 0
    assert bob.get("/api/v1/reports/").json()["count"] == 1


def test_the_output_list_pages_by_cursor_newest_job_first_in_output_order(alice, bob):
    jobs = [job_make(alice.user) for _ in range(3)]
    outputs = [output_make(job, index=i) for job in jobs for i in range(2)]
    output_make(job_make(bob.user))

    seen, page = [], alice.get("/api/v1/outputs/?page_size=1").json()
    assert "count" not in page
    while True:
        seen += [o["produce_id"] for o in page["results"]]
        if not page["next"]:
            break
        page = alice.get(page["next"]).json()

    expected = [o.produce_id for job in reversed(jobs) for o in outputs if o.job_id == job.pk]
    assert seen == expected
    assert alice.get("/api/v1/outputs/?cursor=not-a-cursor").status_code == 404

"""The auditors' dashboard and the trace of one job: each panel's figures against known records, the links
that open the log narrowed to a bar, the refusals split by reason code, and a trace's order and seals.

The log outlives the flush between tests, so each test writes its records into an hour of its own, years
back, and asks the dashboard for that hour: what other tests left never counts.
"""

from __future__ import annotations

import random
import uuid
from datetime import datetime, timedelta
from unittest import mock
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from audit import dashboard, services
from audit.models import LogEntry
from genai_platform.roles import Role

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")
EN = {"HTTP_ACCEPT_LANGUAGE": "en"}


@pytest.fixture
def auditor(client_for):  # type: ignore[no-untyped-def]
    return client_for(Role.AUDITOR)


@pytest.fixture
def hour() -> datetime:
    """The start of an hour (Beijing time) no other test writes in."""
    return datetime(2004, 1, 1, tzinfo=SHANGHAI) + timedelta(hours=random.randrange(150_000))


def _range(start: datetime, hours: int = 1) -> dict[str, str]:
    end = start + timedelta(hours=hours)
    return {"range": "custom", "time_from": f"{start:%Y-%m-%dT%H:%M}", "time_to": f"{end:%Y-%m-%dT%H:%M}"}


def _at(when: datetime, writer, **fields) -> LogEntry:  # type: ignore[no-untyped-def]
    with mock.patch("django.utils.timezone.now", return_value=when):
        return writer(**fields)


def _generation(when: datetime, event_type: str, **fields) -> LogEntry:  # type: ignore[no-untyped-def]
    return _at(when, services.generation_event, event_type=event_type, **fields)


def _refused(when: datetime, *, code: str | None, stage: str | None, risks: list[str] | None = None) -> LogEntry:
    payload = {"reason": "x", **({"reason_code": code} if code else {}), **({"stage": stage} if stage else {})}
    return _generation(when, "generation.refused", decision="refused", risk_codes=risks, payload=payload)


def _finished(when: datetime, event_type: str, job: str, ms: int, produce_id: str = "") -> LogEntry:
    fields = {"payload": {"job_id": job, "latency_ms": ms, "reason": "x"}}
    return _generation(when, event_type, produce_id=produce_id or None, **fields)


@pytest.fixture
def traffic(hour):  # type: ignore[no-untyped-def]
    """Known records over one hour: requests, refusals of every kind, jobs with several outputs, exports,
    suspensions and complaints."""
    t = hour + timedelta(minutes=5)
    jobs = {name: f"{name}-{uuid.uuid4()}" for name in "abcd"}
    for name in "abc":
        _generation(t, "generation.requested", payload={"job_id": jobs[name]})
    _refused(t, code="content", stage="input_moderation", risks=["A.1.2", "B.3"])
    _refused(t, code="content", stage="input_moderation", risks=["A.1.5"])
    _refused(t, code=None, stage="input_moderation", risks=["A.1.6"])  # older record: no reason code
    _refused(t, code="net_not_ready", stage="policy")
    _refused(t, code="net_not_ready", stage="policy")
    _refused(t, code=None, stage="policy")  # older record: no reason code
    _refused(t, code="over_quota", stage="policy")
    later = hour + timedelta(minutes=40)
    for i in range(3):  # one job, three outputs
        _finished(later, "generation.succeeded", jobs["a"], 1000, produce_id=f"P-{jobs['a']}-{i}")
    _finished(later, "generation.succeeded", jobs["b"], 2000, produce_id=f"P-{jobs['b']}")
    _finished(later, "generation.failed", jobs["c"], 5000)
    _finished(later, "generation.output_blocked", jobs["d"], 3000)
    for n in range(2):
        _at(t, services.audit_event, event_type="audit.exported", payload={"export_id": str(n), "format": "csv"})
    _at(t, services.user_event, event_type="user.suspended", payload={"reason": "violations"})
    _at(later, services.user_event, event_type="user.reinstated", payload={"reason": "appeal"})
    ident = uuid.uuid4().hex[:8]
    due = t + timedelta(days=1)
    states = {"on_time": due - timedelta(hours=1), "late": due + timedelta(hours=1), "overdue": None, "open": None}
    for state, answered in states.items():
        subject = ("filing.complaint", f"{ident}-{state}", f"complaint {state}")
        due_at = timezone.now() + timedelta(days=3) if state == "open" else due
        received = {"due_at": due_at.isoformat()}
        _at(t, services.complaint_event, event_type="complaint.received", subject=subject, payload=received)
        if answered:
            resolved = {"action": "none"}
            _at(answered, services.complaint_event, event_type="complaint.resolved", subject=subject, payload=resolved)
    return {"hour": hour, "jobs": jobs, "complaint": ident}


def test_each_panel_counts_what_it_says(auditor, traffic):
    response = auditor.get("/audit/dashboards/", _range(traffic["hour"]), **EN)
    assert response.status_code == 200
    context = response.context

    # Requests: one record each, accepted or refused.
    assert context["accepted"] == 3 and context["requests_total"] == 10

    # Refusals: only the content refusals count in the rates (over the requests the checks judged: 3 + 3).
    refused = context["refused"]
    assert refused.by_kind == {"content": 3, "not_ready": 2, "policy": 1, "unrecorded": 1}
    assert refused.checked == 6
    assert refused.by_class == [("A.1", 3), ("B.3", 1)]
    assert [(c, n, round(rate, 2)) for c, n, rate, _link in context["refusal_class_rows"]] == [
        ("A.1", 3, 50.0),
        ("B.3", 1, 16.67),
    ]
    assert {code: n for code, n, _link in context["refusal_reasons"]} == {
        "net_not_ready": 2,
        "over_quota": 1,
        "not recorded": 1,
    }

    # Top risk codes: records naming each.
    assert [(label, value) for label, value, _l, _p in context["codes"]["rows"]] == [
        ("A.1.2", "1"),
        ("A.1.5", "1"),
        ("A.1.6", "1"),
        ("B.3", "1"),
    ]

    # Latency per job, not per output: job a made three outputs and counts once.
    latency = context["latency"]
    assert (latency.overall.jobs, latency.outputs) == (4, 4)
    assert latency.overall.p50 == pytest.approx(2500)  # of 1000, 2000, 3000, 5000 ms
    assert latency.overall.p95 == pytest.approx(4700)
    page = response.content.decode()
    assert "Over 4 finished jobs" in page and "4 outputs delivered" in page
    assert "2.50 s" in page and "4.70 s" in page

    assert context["exports_total"] == 2
    assert (context["suspended_total"], context["reinstated_total"]) == (1, 1)

    # Complaints against their due dates, most urgent first.
    states = [c.state for c in context["complaints"]]
    assert states == ["overdue", "open", "answered_late", "answered_on_time"]
    assert all(c.subject_id.startswith(traffic["complaint"]) for c in context["complaints"])


def test_the_latency_percentiles_interpolate_between_ranks():
    assert dashboard.percentile([], 0.5) is None
    assert dashboard.percentile([7.0], 0.95) == 7.0
    assert dashboard.percentile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.5
    assert dashboard.percentile(list(map(float, range(1, 101))), 0.95) == pytest.approx(95.05)


def _seqs_on(auditor, link: str) -> set[int]:  # type: ignore[no-untyped-def]
    response = auditor.get(link, **EN)
    assert response.status_code == 200, link
    return {entry.seq for entry in response.context["entries"]}


def test_bars_open_the_log_narrowed_to_them(auditor, traffic):
    hour = traffic["hour"]
    context = auditor.get("/audit/dashboards/", _range(hour), **EN).context

    # A bar of refused requests: the log over that bar's stretch, refusals only.
    bars = context["requests"]["rows"]
    filled = [(text, cells) for text, cells in bars if cells[1][0] != "0"]
    assert len(filled) == 1
    text, cells = filled[0]
    refused_link = cells[1][1]
    query = parse_qs(urlsplit(refused_link).query)
    assert query["event_type"] == ["generation.refused"] and query["range"] == ["custom"]
    expected = set(
        LogEntry.objects.filter(
            event_type="generation.refused", created_at__gte=hour, created_at__lt=hour + timedelta(hours=1)
        ).values_list("seq", flat=True)
    )
    assert _seqs_on(auditor, refused_link) == expected and len(expected) == 7

    # A risk class: the refusals naming any code of it.
    link = next(link for category, _n, _r, link in context["refusal_class_rows"] if category == "A.1")
    assert len(_seqs_on(auditor, link)) == 3

    # A risk code, and the complaints.
    link = next(link for label, _v, link, _p in context["codes"]["rows"] if label == "B.3")
    assert len(_seqs_on(auditor, link)) == 1
    assert len(_seqs_on(auditor, context["complaint_bars"]["rows"][0][2])) == 4

    # The reason code of the not-ready refusals.
    link = next(link for code, _n, link in context["refusal_reasons"] if code == "net_not_ready")
    assert len(_seqs_on(auditor, link)) == 2


def test_empty_panels_say_so(auditor, hour):
    page = auditor.get("/audit/dashboards/", _range(hour), **EN).content.decode()
    for sentence in (
        "No generation requests in this range.",
        "No refusals in this range.",
        "No risk codes in this range.",
        "No finished jobs in this range.",
        "No exports in this range.",
        "No complaints received in this range.",
        "No suspensions or reinstatements in this range.",
    ):
        assert sentence in page


def test_the_page_takes_the_log_pages_ranges_and_says_what_is_wrong(auditor):
    response = auditor.get("/audit/dashboards/", {"range": "7d"}, **EN)
    assert response.status_code == 200 and response.context["time_range"].preset == "7d"
    assert 'aria-current="true">Last 7 days' in response.content.decode()
    response = auditor.get("/audit/dashboards/", {"range": "fortnight"}, **EN)
    assert response.status_code == 400
    assert "Unknown time range: fortnight" in response.content.decode()


def test_refusals_name_their_reason_and_older_records_still_read():
    from generation.services.gate import refusal_record

    refusal_record(user=None, request=None, kind="gan", params=None, reason="not yet", code="net_not_ready")
    entry = LogEntry.objects.filter(event_type="generation.refused").order_by("-seq").first()
    assert entry is not None and entry.payload_data["reason_code"] == "net_not_ready"
    assert entry.payload_data["stage"] == "policy"
    assert dashboard.refusal_kind("net_not_ready", "policy", "") == dashboard.NOT_READY
    assert dashboard.refusal_kind("over_quota", "policy", "") == dashboard.POLICY
    assert dashboard.refusal_kind("content", "input_moderation", "A.1") == dashboard.CONTENT
    # Records written before reason codes: read by their stage.
    assert dashboard.refusal_kind(None, "input_moderation", "A.1") == dashboard.CONTENT
    assert dashboard.refusal_kind(None, "policy", "") == dashboard.UNRECORDED
    assert dashboard.refusal_kind(None, None, "A.1.2") == dashboard.CONTENT


# ------------------------------------------------------------------------------
# Traces
# ------------------------------------------------------------------------------
@pytest.fixture
def job_story(hour):  # type: ignore[no-untyped-def]
    """A job from request to complaint, sealed but for its last record, with another job's records between."""
    job = str(uuid.uuid4())
    other = str(uuid.uuid4())
    produce = [f"P{uuid.uuid4().hex[:12]}" for _ in range(2)]
    complaint = ("filing.complaint", uuid.uuid4().hex[:8], "complaint on an output")
    t = hour + timedelta(minutes=1)
    seqs = [
        _generation(t, "generation.requested", subject=("generation.job", "71", "job 71"), payload={"job_id": job}).seq
    ]
    _generation(t, "generation.requested", subject=("generation.job", "72", "job 72"), payload={"job_id": other})
    for i, pid in enumerate(produce):
        seqs.append(_finished(t + timedelta(minutes=1, seconds=i), "generation.succeeded", job, 900, pid).seq)
    seqs.append(
        _generation(
            t + timedelta(minutes=2),
            "generation.output_downloaded",
            subject=("generation.output", "5", "output 5"),
            produce_id=produce[0],
            payload={"output_id": produce[0]},
        ).seq
    )
    seqs.append(
        _at(
            t + timedelta(minutes=3),
            services.complaint_event,
            event_type="complaint.received",
            subject=complaint,
            produce_id=produce[0],
            payload={"category": "other"},
        ).seq
    )
    services.seals_make()
    seqs.append(
        _at(
            t + timedelta(minutes=4),
            services.complaint_event,
            event_type="complaint.resolved",
            subject=complaint,
            payload={"action": "removed"},
        ).seq
    )
    return {"job": job, "seqs": seqs, "produce": produce, "complaint": complaint}


def test_a_jobs_trace_lists_its_records_in_order_with_their_seals(auditor, job_story):
    response = auditor.get(f"/audit/trace/job/{job_story['job']}/", **EN)
    assert response.status_code == 200
    steps = response.context["steps"]
    assert [s.entry.seq for s in steps] == job_story["seqs"]
    assert [s.entry.event_type for s in steps] == [
        "generation.requested",
        "generation.succeeded",
        "generation.succeeded",
        "generation.output_downloaded",
        "complaint.received",
        "complaint.resolved",
    ]
    assert all(s.seal is not None and s.proof_valid for s in steps[:-1])
    assert steps[-1].seal is None
    page = response.content.decode()
    assert page.count("proof valid") == 5 and "not sealed yet" in page
    for seq in job_story["seqs"]:
        assert f'href="/audit/records/{seq}/"' in page


def test_traces_are_linked_from_the_log_and_the_record_and_outputs_lead_to_their_job(auditor, job_story, hour):
    job_link = f"/audit/trace/job/{job_story['job']}/"
    log = auditor.get("/audit/", _range(hour) | {"search": job_story["job"]}, **EN).content.decode()
    assert f'href="{job_link}"' in log
    record = auditor.get(f"/audit/records/{job_story['seqs'][0]}/", **EN).content.decode()
    assert f'href="{job_link}"' in record

    response = auditor.get(f"/audit/trace/output/{job_story['produce'][1]}/")
    assert response.status_code == 302 and response["Location"] == job_link

    kind, ident, _text = job_story["complaint"]
    response = auditor.get(f"/audit/trace/{kind}/{ident}/", **EN)
    assert response.status_code == 200
    # The complaint's own records and those of the output it is about.
    assert {s.entry.event_type for s in response.context["steps"]} == {
        "complaint.received",
        "complaint.resolved",
        "generation.succeeded",
        "generation.output_downloaded",
    }
    assert auditor.get("/audit/trace/job/no-such-job/", **EN).status_code == 404


def test_a_tampered_record_shows_its_proof_failing(auditor, job_story, raw_sql):
    raw_sql("UPDATE audit_logentry SET actor_username = 'someone else' WHERE seq = %s", [job_story["seqs"][1]])
    steps = auditor.get(f"/audit/trace/job/{job_story['job']}/", **EN).context["steps"]
    assert [s.proof_valid for s in steps[:3]] == [True, False, True]

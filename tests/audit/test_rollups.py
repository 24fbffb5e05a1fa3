"""The dashboard's rollups: every panel's counts read through them equal those read from the log alone, folding
twice changes nothing, the records written after the last fold still count, and a view folds a bounded tail.

Records go into a stretch of hours years back that no other test writes in (as in ``test_dashboard``).
"""

from __future__ import annotations

import random
import uuid
from datetime import datetime, timedelta
from unittest import mock
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from audit import dashboard, explorer, services
from audit.models import LogEntry, Rollup, RollupState
from genai_platform.roles import Role

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")
EN = {"HTTP_ACCEPT_LANGUAGE": "en"}


def _at(when: datetime, writer, **fields) -> LogEntry:  # type: ignore[no-untyped-def]
    with mock.patch("django.utils.timezone.now", return_value=when):
        return writer(**fields)


def _generation(when: datetime, event_type: str, **fields) -> LogEntry:  # type: ignore[no-untyped-def]
    return _at(when, services.generation_event, event_type=event_type, **fields)


def _refused(when: datetime, *, code: str | None, stage: str | None, risks: list[str] | None = None) -> None:
    payload = {"reason": "x", **({"reason_code": code} if code else {}), **({"stage": stage} if stage else {})}
    _generation(when, "generation.refused", decision="refused", risk_codes=risks, payload=payload)


def _job(when: datetime, event_type: str, ms: float | None, outputs: int = 1) -> None:
    job = str(uuid.uuid4())
    for i in range(outputs):
        payload = {"job_id": job, "reason": "x", **({"latency_ms": ms + i} if ms is not None else {})}
        produce_id = f"P-{job}-{i}" if event_type == "generation.succeeded" else None
        _generation(when, event_type, produce_id=produce_id, payload=payload)


def _traffic(at: datetime) -> None:
    """A bit of everything the panels count, at ``at``."""
    _generation(at, "generation.requested", payload={"job_id": str(uuid.uuid4())})
    _refused(at, code="content", stage="input_moderation", risks=["A.1.2", "B.3"])
    _refused(at, code=None, stage="input_moderation", risks=["A.1.6"])
    _refused(at, code="net_not_ready", stage="policy")
    _refused(at, code=None, stage="policy")
    _refused(at, code="over_quota", stage="policy")
    _job(at, "generation.succeeded", random.uniform(300, 9000), outputs=3)
    _job(at, "generation.succeeded", random.uniform(300, 9000))
    _job(at, "generation.failed", random.uniform(5, 90_000))
    _job(at, "generation.output_blocked", None)
    _at(at, services.audit_event, event_type="audit.exported", payload={"export_id": "1", "format": "csv"})
    _at(at, services.user_event, event_type="user.suspended", payload={"reason": "violations"})
    _at(at, services.user_event, event_type="user.reinstated", payload={"reason": "appeal"})
    subject = ("filing.complaint", uuid.uuid4().hex[:8], "complaint")
    due = {"due_at": (at + timedelta(days=1)).isoformat()}
    _at(at, services.complaint_event, event_type="complaint.received", subject=subject, payload=due)


@pytest.fixture
def stretch() -> dict[str, datetime]:
    """Ten hours and a quarter (bars of 15 minutes) starting 7 minutes past an hour, with records in the partial
    quarter hours at both edges, in whole ones, and just outside the range."""
    hour = datetime(2004, 1, 1, tzinfo=SHANGHAI) + timedelta(hours=random.randrange(150_000))
    start, end = hour + timedelta(minutes=7), hour + timedelta(hours=10, minutes=22)
    for minutes in (3, 10, 14, 75, 76, 200, 331, 332, 500, 601, 619, 623):
        _traffic(hour + timedelta(minutes=minutes))
    return {"start": start, "end": end}


def _time_range(stretch: dict[str, datetime]) -> explorer.TimeRange:
    return explorer.TimeRange(start=stretch["start"], end=stretch["end"], preset=explorer.CUSTOM)


def _assert_same(rolled: dashboard.Figures, raw: dashboard.Figures) -> None:
    assert rolled.requests == raw.requests
    assert rolled.refusals == raw.refusals
    assert rolled.top_codes == raw.top_codes
    assert rolled.exports == raw.exports and rolled.suspensions == raw.suspensions
    assert rolled.complaints == raw.complaints
    assert rolled.latency.outputs == raw.latency.outputs
    for estimated, exact in zip(
        [rolled.latency.overall, *rolled.latency.per_bar], [raw.latency.overall, *raw.latency.per_bar], strict=True
    ):
        assert (estimated.jobs, estimated.timed) == (exact.jobs, exact.timed)
        for guess, value in ((estimated.p50, exact.p50), (estimated.p95, exact.p95)):
            assert (guess is None) == (value is None)
            if value is not None:
                assert guess == pytest.approx(value, rel=0.091, abs=10)


def test_every_panel_counts_the_same_through_the_rollups(stretch):
    time_range = _time_range(stretch)
    services.rollups_fold()
    part = dashboard.split(time_range)
    assert part.rolled is not None and part.rolled.count() > 0
    rolled, raw = dashboard.figures(time_range), dashboard.figures(time_range, rolled=False)
    assert rolled.latency.estimated and not raw.latency.estimated
    _assert_same(rolled, raw)
    # What the range holds: 10 of the 12 moments (3 and 623 minutes past are outside it).
    assert sum(rolled.requests["generation.requested"]) == 10
    assert rolled.refusals.by_kind == {"content": 20, "not_ready": 10, "policy": 10, "unrecorded": 10}
    assert (rolled.latency.overall.jobs, rolled.latency.outputs) == (40, 40)
    assert sum(rolled.exports["audit.exported"]) == 10 and len(rolled.complaints) == 10
    # The partial quarter hours at the edges (10, 14, 619 minutes past) were read from the log.
    assert part.raw.filter(event_type="generation.requested").count() == 3


def test_folding_twice_changes_nothing(stretch):
    services.rollups_fold()
    state = RollupState.objects.get()
    columns = ("bucket", "event_type", "reason_code", "stage", "risk_codes", "latency_bucket", "records", "jobs")
    rows = sorted(Rollup.objects.values_list(*columns))
    assert services.rollups_fold() == 0
    assert RollupState.objects.get().folded_to == state.folded_to
    assert sorted(Rollup.objects.values_list(*columns)) == rows


def test_a_bounded_fold_goes_on_where_it_stopped(stretch):
    start = RollupState.objects.filter(id=1).values_list("folded_to", flat=True).first() or 0
    folded = services.rollups_fold(limit=5)
    folded_to = RollupState.objects.get().folded_to
    assert folded_to == start + 5
    assert folded == LogEntry.objects.filter(seq__gt=start, seq__lte=folded_to).count()
    assert services.rollups_fold() > 0
    assert RollupState.objects.get().folded_to > folded_to
    time_range = _time_range(stretch)
    _assert_same(dashboard.figures(time_range), dashboard.figures(time_range, rolled=False))


def test_records_after_the_last_fold_still_count(stretch):
    time_range = _time_range(stretch)
    services.rollups_fold()
    before = dashboard.figures(time_range)
    _traffic(stretch["start"] + timedelta(hours=4))  # a whole quarter hour already folded
    assert dashboard.split(time_range).raw.filter(event_type="generation.requested").count() == 4
    after, raw = dashboard.figures(time_range), dashboard.figures(time_range, rolled=False)
    _assert_same(after, raw)
    assert sum(after.requests["generation.requested"]) == sum(before.requests["generation.requested"]) + 1
    assert after.latency.overall.jobs == before.latency.overall.jobs + 4


def test_the_dashboard_folds_a_bounded_tail_and_says_percentiles_are_estimated(client_for, stretch, settings):
    # 7 records: the request, 5 refusals and the first of the 3 outputs of a job, which the fold does not cut.
    settings.AUDIT_ROLLUP_INLINE_MAX_RECORDS = 7
    services.rollups_fold()
    folded_to = RollupState.objects.get().folded_to
    _traffic(stretch["start"] + timedelta(hours=2))
    auditor = client_for(Role.AUDITOR)
    query = {
        "range": "custom",
        "time_from": timezone.localtime(stretch["start"], SHANGHAI).strftime("%Y-%m-%dT%H:%M"),
        "time_to": timezone.localtime(stretch["end"], SHANGHAI).strftime("%Y-%m-%dT%H:%M"),
    }
    response = auditor.get("/audit/dashboards/", query, **EN)
    assert response.status_code == 200
    assert RollupState.objects.get().folded_to == folded_to + 6
    raw = dashboard.figures(response.context["time_range"], rolled=False)
    assert response.context["accepted"] == sum(raw.requests["generation.requested"]) == 11
    assert response.context["latency"].overall.jobs == raw.latency.overall.jobs == 44
    assert "estimated from the number of jobs in each latency class" in response.content.decode()


def test_percentiles_estimated_from_latency_classes_stay_in_the_exact_values_class():
    values = sorted(random.uniform(1, 200_000) for _ in range(500))
    counts: dict[int, int] = {}
    for v in values:
        counts[dashboard.latency_bucket(v)] = counts.get(dashboard.latency_bucket(v), 0) + 1
    for fraction in (0.5, 0.95):
        exact = dashboard.percentile(values, fraction)
        assert exact is not None
        assert dashboard.histogram_percentile(counts, fraction) == pytest.approx(exact, rel=0.091, abs=10)
    assert dashboard.histogram_percentile({-1: 3}, 0.5) is None
    assert dashboard.latency_bucket(None) == -1 and dashboard.latency_bucket(3) == 0
    low, high = dashboard.latency_bounds(dashboard.latency_bucket(1234.0))
    assert low <= 1234.0 < high and high / low == pytest.approx(dashboard.LATENCY_RATIO)


@pytest.mark.parametrize("event_type", ["", "generation.refused", "generation.*"])
def test_the_log_histogram_counts_the_same_through_the_rollups(stretch, event_type):
    from audit.selectors import LogFilters

    time_range = _time_range(stretch)
    services.rollups_fold()
    _traffic(stretch["start"] + timedelta(hours=3))  # not folded
    filters = LogFilters.from_mapping({"event_type": event_type} | time_range.as_filters())
    assert dashboard.split(time_range).rolled is not None
    bars = dashboard.log_histogram(filters, time_range)
    assert bars == explorer.histogram(filters.queryset(), time_range)
    assert sum(bar.count for bar in bars) == filters.queryset().count() > 0


def test_after_a_purge_the_rollups_before_its_cutoff_are_not_read(stretch):
    time_range = _time_range(stretch)
    services.rollups_fold()
    cutoff = stretch["start"] + timedelta(hours=5, minutes=3)
    services.rollups_forget_before(moment=cutoff)
    part = dashboard.split(time_range)
    assert part.rolled is not None
    assert not Rollup.objects.filter(bucket__lt=dashboard.bucket_start(cutoff)).exists()
    # From the quarter hour after the cutoff on; what lies before it is read from the log.
    assert not part.rolled.filter(bucket__lt=cutoff).exists()
    _assert_same(dashboard.figures(time_range), dashboard.figures(time_range, rolled=False))

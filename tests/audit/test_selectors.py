"""Dashboard figures computed from the log."""

from __future__ import annotations

import pytest
from django.utils import timezone

from audit import selectors, services

pytestmark = pytest.mark.django_db


@pytest.fixture
def traffic():
    start = services.auth_event(event_type="auth.logout", actor_username="system:test").seq
    for i in range(6):
        services.generation_event(event_type="generation.requested", payload={"job_id": str(i)})
    services.generation_event(
        event_type="generation.refused", decision="refused", risk_codes=["A.1.2", "B.3"], payload={"reason": "x"}
    )
    services.generation_event(
        event_type="generation.refused", decision="refused", risk_codes=["A.1.5"], payload={"reason": "x"}
    )
    for ms in (100, 200, 300, 400, 1000):
        services.generation_event(event_type="generation.succeeded", payload={"job_id": "j", "latency_ms": ms})
    return start


def test_requests_per_day_counts_accepted_and_refused(traffic):
    per_day = dict(selectors.requests_per_day(days=2))
    assert per_day[timezone.localdate()] >= 8


def test_refusal_rate_groups_codes_by_category(traffic):
    since = _time_of(traffic)
    rates = {category: (n, rate) for category, n, rate in selectors.refusal_rate_by_category(since=since)}
    assert rates["A.1"] == (2, pytest.approx(2 / 8))
    assert rates["B.3"] == (1, pytest.approx(1 / 8))
    assert dict(selectors.top_risk_codes(since=since)) == {"A.1.2": 1, "A.1.5": 1, "B.3": 1}


def test_latency_percentiles(traffic):
    figures = selectors.latency_percentiles(since=_time_of(traffic))
    assert figures == {"p50": 300.0, "p90": 1000.0, "p99": 1000.0, "count": 5.0}


def _time_of(seq):
    from audit.models import LogEntry

    return LogEntry.objects.get(seq=seq).created_at

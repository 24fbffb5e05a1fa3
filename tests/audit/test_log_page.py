"""The auditors' log page: time ranges, histogram, search, keyset pages and the live integrity banner.

The log outlives the flush between tests, so each test writes records under an actor of its own and
filters on it: what other tests left behind never counts.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta
from unittest import mock
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.utils import timezone

from audit import services
from audit.explorer import bar_width
from audit.models import LogEntry
from genai_platform.roles import Role

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")


def _actor() -> str:
    return f"t-{uuid.uuid4().hex[:10]}"


def _write(actor: str, when: datetime | None = None, **fields) -> int:  # type: ignore[no-untyped-def]
    fields.setdefault("event_type", "generation.requested")
    fields.setdefault("payload", {"job_id": "j"})
    if when is None:
        return services.generation_event(actor_username=actor, **fields).seq
    with mock.patch("django.utils.timezone.now", return_value=when):
        return services.generation_event(actor_username=actor, **fields).seq


def _seqs(response) -> list[int]:  # type: ignore[no-untyped-def]
    return [entry.seq for entry in response.context["entries"]]


@pytest.fixture
def auditor(client_for):  # type: ignore[no-untyped-def]
    return client_for(Role.AUDITOR)


# ------------------------------------------------------------------------------
# Time range
# ------------------------------------------------------------------------------
def test_presets_keep_to_their_span_and_the_default_is_the_last_24_hours(auditor):
    actor = _actor()
    now = timezone.now()
    ages = {"10m": timedelta(minutes=10), "50m": timedelta(minutes=50), "5h": timedelta(hours=5)}
    ages |= {"3d": timedelta(days=3), "20d": timedelta(days=20), "40d": timedelta(days=40)}
    seq = {name: _write(actor, now - age) for name, age in ages.items()}

    expected = {
        "15m": ["10m"],
        "1h": ["10m", "50m"],
        "24h": ["10m", "50m", "5h"],
        "7d": ["10m", "50m", "5h", "3d"],
        "30d": ["10m", "50m", "5h", "3d", "20d"],
    }
    for preset, names in expected.items():
        response = auditor.get("/audit/", {"range": preset, "actor": actor})
        assert response.status_code == 200, preset
        assert sorted(_seqs(response)) == sorted(seq[n] for n in names), preset
        assert response.context["time_range"].preset == preset
    assert sorted(_seqs(auditor.get("/audit/", {"actor": actor}))) == sorted(seq[n] for n in expected["24h"])


def test_the_page_names_its_zone_and_the_url_keeps_range_filters_and_search(auditor):
    actor = _actor()
    for i in range(3):
        _write(actor, subject=("generation.job", str(i), f"job needle {i}"))
    page = auditor.get(
        "/audit/", {"range": "7d", "actor": actor, "search": "needle", "decision": ""}, HTTP_ACCEPT_LANGUAGE="en"
    ).content.decode()
    assert "Asia/Shanghai, UTC+08:00" in page
    # Every preset link and bar link carries the filters and the search.
    links = re.findall(r'href="\?([^"]+)"', page)
    assert links
    for link in links:
        query = parse_qs(link.replace("&amp;", "&"))
        assert query["actor"] == [actor] and query["search"] == ["needle"], link
        assert "range" in query


def test_the_zone_comes_from_the_setting(auditor, settings):
    settings.AUDIT_TIME_ZONE = "UTC"
    actor = _actor()
    _write(actor, datetime(2026, 3, 1, 8, 30, tzinfo=SHANGHAI))
    response = auditor.get(
        "/audit/", {"range": "custom", "time_from": "2026-03-01T00:00", "time_to": "2026-03-01T01:00", "actor": actor}
    )
    assert len(response.context["entries"]) == 1  # 08:30 in Shanghai is 00:30 UTC
    assert "UTC, UTC+00:00" in response.content.decode()
    assert "2026-03-01 00:30:00" in response.content.decode()


def test_a_custom_range_reads_local_times_and_bad_input_is_a_form_error(auditor):
    actor = _actor()
    inside = _write(actor, datetime(2026, 3, 1, 8, 30, tzinfo=SHANGHAI))
    _write(actor, datetime(2026, 3, 1, 9, 30, tzinfo=SHANGHAI))
    response = auditor.get(
        "/audit/", {"range": "custom", "time_from": "2026-03-01T08:00", "time_to": "2026-03-01T09:00", "actor": actor}
    )
    assert response.status_code == 200
    assert _seqs(response) == [inside]
    # The inputs show the range as typed, with no stand-in value when a preset is chosen.
    assert 'name="time_from" value="2026-03-01T08:00"' in response.content.decode()
    preset_page = auditor.get("/audit/", {"range": "1h"}).content.decode()
    assert 'name="time_from" value=""' in preset_page and "placeholder" not in preset_page

    bad = {
        "From is not a date and time": {"range": "custom", "time_from": "last tuesday"},
        "To is not a date and time": {"time_from": "2026-03-01T08:00", "time_to": "2026-02-30T10:00"},
        "The range must end after it starts.": {
            "range": "custom",
            "time_from": "2026-03-01T09:00",
            "time_to": "2026-03-01T08:00",
        },
        "Give the start of the custom range.": {"range": "custom", "time_to": "2026-03-01T08:00"},
        "Unknown time range: fortnight": {"range": "fortnight"},
        "before must be a record number": {"before": "12; DROP TABLE"},
    }
    for message, query in bad.items():
        response = auditor.get("/audit/", query, HTTP_ACCEPT_LANGUAGE="en")
        assert response.status_code == 400, query
        assert message in response.content.decode(), query
        assert 'role="alert"' in response.content.decode()


# ------------------------------------------------------------------------------
# Histogram
# ------------------------------------------------------------------------------
def test_histogram_counts_each_record_in_its_bar_with_edges_included_at_the_start(auditor):
    actor = _actor()
    at = datetime(2026, 3, 1, 8, 0, tzinfo=SHANGHAI)
    for offset in (
        timedelta(0),  # on the first edge: bar 0
        timedelta(seconds=59, microseconds=900_000),  # bar 0
        timedelta(minutes=1),  # on the next edge: bar 1
        timedelta(minutes=30, seconds=30),  # bar 30
        timedelta(minutes=59, seconds=59),  # bar 59
        timedelta(hours=1),  # the range's end is excluded
        timedelta(seconds=-1),  # before the range
    ):
        _write(actor, at + offset)
    response = auditor.get(
        "/audit/", {"range": "custom", "time_from": "2026-03-01T08:00", "time_to": "2026-03-01T09:00", "actor": actor}
    )
    bars = response.context["bars"]
    assert len(bars) == 60  # one minute each over an hour
    assert bars[0].start == at and bars[-1].end == at + timedelta(hours=1)
    counts = {i: bar.count for i, bar in enumerate(bars) if bar.count}
    assert counts == {0: 2, 1: 1, 30: 1, 59: 1}
    assert response.context["bars_total"] == 5 == len(response.context["entries"])


def test_bars_line_up_with_local_midnight_and_follow_the_filters(auditor):
    actor = _actor()
    day = datetime(2026, 3, 2, tzinfo=SHANGHAI)
    refused = {"decision": "refused", "event_type": "generation.refused", "payload": {"reason": "r"}}
    _write(actor, day + timedelta(hours=1), **refused)
    _write(actor, day + timedelta(hours=2))
    _write(actor, day + timedelta(days=2, hours=23, minutes=59))
    query = {"range": "custom", "time_from": "2026-03-01T10:00", "time_to": "2026-03-08T10:00", "actor": actor}
    bars = auditor.get("/audit/", query).context["bars"]
    assert bar_width(timedelta(days=7)) == 3 * 3600
    assert bars[0].start == datetime(2026, 3, 1, 10, tzinfo=SHANGHAI)
    assert bars[1].start == datetime(2026, 3, 1, 12, tzinfo=SHANGHAI)  # edges every 3 h from midnight
    by_start = {bar.start: bar.count for bar in bars if bar.count}
    assert by_start == {day: 2, day + timedelta(days=2, hours=21): 1}
    refused = auditor.get("/audit/", query | {"decision": "refused"}).context["bars"]
    assert {bar.start: bar.count for bar in refused if bar.count} == {day: 1}


def test_a_bar_links_to_its_own_stretch_of_time_with_the_same_filters(auditor):
    actor = _actor()
    at = datetime(2026, 3, 1, 8, 0, tzinfo=SHANGHAI)
    target = _write(actor, at + timedelta(hours=5, minutes=20))
    _write(actor, at + timedelta(hours=9))
    query = {"range": "custom", "time_from": "2026-03-01T00:00", "time_to": "2026-03-02T00:00", "actor": actor}
    response = auditor.get("/audit/", query)
    link = next(link for bar, _text, link in response.context["bar_rows"] if bar.count and bar.start.hour == 13)
    narrowed = auditor.get("/audit/" + link)
    assert parse_qs(urlsplit(link).query)["time_from"] == ["2026-03-01T13:15:00"]
    assert _seqs(narrowed) == [target]
    assert narrowed.context["time_range"].end - narrowed.context["time_range"].start == timedelta(minutes=15)


# ------------------------------------------------------------------------------
# Search
# ------------------------------------------------------------------------------
def test_search_finds_subjects_and_payloads_in_chinese_and_english(auditor):
    actor = _actor()
    violent = _write(
        actor,
        event_type="generation.refused",
        decision="refused",
        payload={"reason": "提示词含有暴力内容", "stage": "input_moderation"},
    )
    subject = _write(actor, subject=("generation.job", "7", "Job for Secret Garden"))
    percent = _write(actor, payload={"job_id": "50% off_sale"})
    _write(actor, payload={"job_id": "500 offsale"})

    def found(text: str, **extra: str) -> list[int]:
        response = auditor.get("/audit/", {"actor": actor, "search": text, **extra})
        assert response.status_code == 200
        return sorted(_seqs(response))

    assert found("暴力内容") == [violent]
    assert found("暴力") == [violent]  # two characters: too short for trigrams, still found
    assert found("secret garden") == [subject]  # case does not matter
    assert found("50% off_") == [percent]  # % and _ are themselves
    assert found("提示词含有暴力内容") == [violent]
    assert found("暴力 内容") == []
    assert found("input_moderation", decision="refused") == [violent]
    assert found("input_moderation", decision="allowed") == []
    assert found("暴力", range="15m") == [violent]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the trigram index is PostgreSQL's")
def test_postgresql_search_uses_the_trigram_index():
    qs = LogEntry.objects.matching("暴力内容")
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_indexscan = off")
        plan = qs.explain()
    assert "audit_logentry_search" in plan
    # The indexed text parses nothing: a payload that is not JSON is indexed (and found) as it is.
    with connection.cursor() as cursor:
        cursor.execute("SELECT audit_search_text('s', %s)", ['{"a":"\\u0000x"} not json'])
        assert cursor.fetchone()[0] == 's {"a":"\\u0000x"} not json'


# ------------------------------------------------------------------------------
# Keyset pages
# ------------------------------------------------------------------------------
def _follow(auditor, query: dict[str, str], direction: str) -> list[list[int]]:  # type: ignore[no-untyped-def]
    pages = []
    response = auditor.get("/audit/", query)
    while True:
        pages.append(_seqs(response))
        link = response.context[f"{direction}_query"]
        if not link:
            return pages
        response = auditor.get("/audit/?" + link)


@pytest.mark.parametrize("window", [4, 20_000])  # pages found past the window, and within it
def test_older_and_newer_pages_meet_every_record_once(auditor, settings, window):
    settings.AUDIT_LOG_PAGE_SIZE = 5
    settings.AUDIT_LOG_PAGE_WINDOW = window
    actor = _actor()
    written = []
    for i in range(23):
        written.append(_write(actor, payload={"job_id": f"j{i}"}))
        if i % 3 == 0:
            _write(_actor())  # other actors' records in between do not shift the pages
    query = {"range": "1h", "actor": actor}

    older = _follow(auditor, query, "older")
    assert [len(p) for p in older] == [5, 5, 5, 5, 3]
    walked = [seq for page in older for seq in page]
    assert walked == sorted(written, reverse=True)

    # From the last page back up, a record written meanwhile appears at the top, and nothing repeats.
    last = auditor.get("/audit/", query | {"before": str(older[-2][-1])})
    assert _seqs(last) == older[-1]
    late = _write(actor)
    pages = [_seqs(last)]
    response = last
    while response.context["newer_query"]:
        response = auditor.get("/audit/?" + response.context["newer_query"])
        pages.insert(0, _seqs(response))
    back = [seq for page in pages for seq in page]
    assert back == sorted([*written, late], reverse=True)
    assert len(back) == len(set(back))


def test_a_page_does_not_count_the_log(auditor):
    from django.test.utils import CaptureQueriesContext

    _write(_actor())
    with CaptureQueriesContext(connection) as queries:
        assert auditor.get("/audit/", {"range": "30d"}).status_code == 200
    counting = [q["sql"] for q in queries.captured_queries if "COUNT(" in q["sql"].upper()]
    # The histogram counts within the range, and the banner counts the records after the last seal.
    assert all("GROUP BY" in sql or '"seq" >' in sql for sql in counting), counting


# ------------------------------------------------------------------------------
# Live integrity banner
# ------------------------------------------------------------------------------
@pytest.fixture
def broker_emptied():  # type: ignore[no-untyped-def]
    """The verification sent by the test is not left for another test's worker, nor its state for another page."""
    yield
    from audit.progress import verification_forget
    from genai_platform.celery import app

    app.control.purge()
    verification_forget()


def test_verify_now_returns_a_banner_that_polls_until_the_result_is_in(auditor, broker_emptied):
    from audit.tasks import verify_task

    response = auditor.post("/audit/verify/", HTTP_HX_REQUEST="true", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    banner = response.content.decode()
    assert 'id="integrity"' in banner and 'hx-trigger="every 2s"' in banner
    assert "Verification waiting for a worker." in banner and "<html" not in banner
    assert "Verify now" in banner  # a verification lost with no worker to take it can be sent again

    polled = auditor.get("/audit/integrity/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "hx-trigger" in polled

    assert verify_task() is True  # what the worker runs
    done = auditor.get("/audit/integrity/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "hx-trigger" not in done
    assert "<strong>OK</strong>" in done and "ago</time>" in done
    assert re.search(r'title="\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \(Asia/Shanghai, UTC\+08:00\)"', done)


def test_verify_now_without_script_goes_back_to_the_page_it_came_from(auditor, broker_emptied):
    response = auditor.post("/audit/verify/", {"next": "/audit/?range=7d&search=x"})
    assert response.status_code == 302 and response["Location"] == "/audit/?range=7d&search=x"
    response = auditor.post("/audit/verify/", {"next": "https://elsewhere.example/"})
    assert response["Location"] == "/audit/"


def test_verification_reports_its_progress_block_by_block():
    from audit.verification import log_verify

    services.seals_make()
    for i in range(6):
        _write(_actor(), payload={"job_id": str(i)})
    sealed = services.seals_make(block_size=2)
    reached: list[int] = []
    assert log_verify(progress=reached.append).ok
    assert reached[-len(sealed) :] == [seal.last_seq for seal in sealed]

"""Sequence numbers on PostgreSQL: a running transaction's number is waited for, a rolled-back one is sealed as void."""

from __future__ import annotations

import json
import threading
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection, connections, transaction

from audit import services
from audit.models import LogEntry, Seal
from audit.verification import log_verify
from genai_platform.roles import Role

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="SQLite gives numbers only to records that commit, so none is void"
    ),
]


@pytest.fixture(autouse=True)
def _settled_start() -> None:
    """Seal what earlier tests left (their rolled-back numbers become void), so each test starts clean."""
    services.seals_make()


def _write(name: str) -> int:
    return services.generation_event(
        event_type="generation.requested", actor_username=name, payload={"job_id": name}
    ).seq


def test_a_rolled_back_number_is_sealed_as_void_and_the_chain_verifies(client_for):
    before = _write("before")
    with pytest.raises(RuntimeError), transaction.atomic():
        lost = _write("rolled-back")
        raise RuntimeError("roll back")
    after = _write("after")
    assert (lost, after) == (before + 1, before + 2)
    assert log_verify().unsettled == 1

    services.seals_make()
    void = LogEntry.objects.get(seq=lost)
    assert void.event_type == services.VOID_EVENT_TYPE
    assert (void.subject_id, json.loads(void.payload)) == (str(lost), {"reason": "no_record_when_sealed"})
    assert void.actor_username == "system:audit-sealer"
    assert not LogEntry.objects.filter(actor_username="rolled-back").exists()
    result = log_verify()
    assert result.ok and result.unsealed == 0 and result.unsettled == 0, result.summary()
    assert Seal.objects.order_by("-number").first().last_seq == after

    # audit_verify passes and names the number as a known gap; so does the auditors' banner, from its record.
    out = StringIO()
    call_command("audit_verify", stdout=out)
    assert out.getvalue().startswith("OK:")
    assert f"{lost} missing: rolled back or deleted before sealing" in out.getvalue()
    page = client_for(Role.AUDITOR).get("/audit/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "no record: rolled back or deleted before sealing (latest: " in page
    assert f"{lost})." in page or f"{lost}, " in page


def test_the_sealer_waits_for_a_running_transaction_and_never_voids_its_number():
    first = _write("first")
    holding, release, done = threading.Event(), threading.Event(), threading.Event()
    taken: list[int] = []

    def writer() -> None:
        try:
            with transaction.atomic():
                taken.append(_write("in-flight"))
                holding.set()
                release.wait(30)
        finally:
            connections.close_all()
            done.set()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert holding.wait(30)
        later = _write("later")  # committed after the in-flight number was taken
        # The in-flight transaction does not end within the timeout: nothing is voided, and only
        # what comes before its number is sealed.
        services.seals_make(settle_timeout=0.2)
        assert not LogEntry.objects.filter(event_type=services.VOID_EVENT_TYPE, seq__gte=first).exists()
        assert Seal.objects.order_by("-number").first().last_seq == first
    finally:
        release.set()
        thread.join(30)
    assert done.is_set()
    services.seals_make()
    in_flight = LogEntry.objects.get(seq=taken[0])
    assert in_flight.actor_username == "in-flight"
    assert Seal.objects.order_by("-number").first().last_seq == later
    assert log_verify().ok


def test_the_sealer_waits_until_a_running_writer_commits():
    holding, committed = threading.Event(), threading.Event()
    taken: list[int] = []

    def writer() -> None:
        try:
            with transaction.atomic():
                taken.append(_write("slow"))
                holding.set()
                threading.Event().wait(0.5)
            committed.set()
        finally:
            connections.close_all()

    thread = threading.Thread(target=writer)
    thread.start()
    assert holding.wait(30)
    services.seals_make(settle_timeout=10)  # waits for the writer instead of voiding its number
    thread.join(30)
    assert committed.is_set()
    assert LogEntry.objects.get(seq=taken[0]).actor_username == "slow"
    assert Seal.objects.order_by("-number").first().last_seq >= taken[0]
    assert log_verify().ok


def test_a_long_transaction_in_another_database_does_not_hold_up_voiding():
    import psycopg2

    settings = connection.settings_dict
    other = psycopg2.connect(
        dbname="postgres", user=settings["USER"], host=settings["HOST"], port=settings["PORT"] or 5432
    )
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_current_xact_id()")  # a running transaction with an id, elsewhere
        with pytest.raises(RuntimeError), transaction.atomic():
            lost = _write("rolled-back")
            raise RuntimeError("roll back")

        services.seals_make(settle_timeout=0.2)

        # The other database's transaction cannot hold one of this log's numbers, so it is not waited for.
        assert LogEntry.objects.get(seq=lost).event_type == services.VOID_EVENT_TYPE
        assert log_verify().unsettled == 0
    finally:
        other.rollback()
        other.close()


def test_a_writer_prepares_its_insert_again_on_a_new_connection_or_after_it_was_dropped():
    first = _write("prepared")
    connection.close()
    after_reconnect = _write("reconnected")
    with connection.cursor() as cursor:
        cursor.execute("DEALLOCATE ALL")  # as a connection pooler's DISCARD ALL would
    after_drop = _write("deallocated")
    one_dropped = []
    for name in ("audit_logentry_take", "audit_logentry_append"):  # each of the two, the other one left in place
        with connection.cursor() as cursor:
            cursor.execute(f"DEALLOCATE {name}")
        one_dropped.append(_write(f"without {name}"))

    assert first < after_reconnect < after_drop < one_dropped[0] < one_dropped[1]
    written = ["prepared", "reconnected", "deallocated", "without audit_logentry_take", "without audit_logentry_append"]
    assert LogEntry.objects.filter(actor_username__in=written).count() == 5
    services.seals_make()
    result = log_verify()
    assert result.ok and result.unsealed == 0, result.summary()

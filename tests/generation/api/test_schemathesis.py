"""Schemathesis against the live API (the end-user API as an end user, the audit API as an auditor): every
operation of the served schema, with generated valid and invalid requests, a fixed number of examples each and a
time budget. No answer may be a server error, and every answer must match the schema (status code, content type,
headers and body).

The app runs in pytest-django's live server (a real HTTP server in a thread, the whole middleware stack) with
the real database and broker; jobs that are accepted stay queued, no worker runs."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
import requests
import schemathesis
from django.core.cache import cache
from django.db import connections
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis.errors import Unsatisfiable
from rest_framework.authtoken.models import Token
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.core.failures import FailureGroup

from audit import services as audit
from audit.models import LogEntry
from genai_platform.roles import Role
from generation.models import Job
from tests.generation.api.helpers import job_make, output_make

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(240)]

# Generated requests per operation and mode (valid, then invalid): fixed, and derandomized, so every run sends
# the same requests.
EXAMPLES = 8
# Seconds for the generated requests of one operation (both modes); past it, the operation sends no more of them,
# so that a slow machine shortens the run instead of timing out (its fixed requests are always sent).
OPERATION_SECONDS = 3.0
TOKENS = {"fuzzer": "schemathesis0000000000000000000000000000", "auditor": "schemathesis1111111111111111111111111111"}
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@pytest.fixture
def platform(user_with_role, settings) -> dict[str, Any]:
    """A serving demo service (tiny nets of all three kinds) and an end user with a token, jobs and outputs."""
    from tests.generation.factories import checkpoint_tiny

    for kind in ("gan", "vae", "lm"):
        checkpoint_tiny(kind)
    settings.GENERATION_DAILY_QUOTA = 0
    rates = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
    settings.REST_FRAMEWORK = settings.REST_FRAMEWORK | {
        "DEFAULT_THROTTLE_RATES": rates | {"enduser": "100000/min", "enduser_jobs": "100000/min"}
    }
    user = user_with_role(Role.END_USER, "fuzzer")
    auditor = user_with_role(Role.AUDITOR, "auditor")
    succeeded = job_make(user, kind="gan")
    text = job_make(user, kind="lm")
    queued = job_make(user, status=Job.Status.QUEUED)
    sealed = audit.seals_make()[-1]
    audit.audit_event(event_type="audit.verified", actor_username="system:test", payload={"ok": True})  # unsealed
    return {
        "users": [user, auditor],
        "public_id": [str(succeeded.public_id), str(queued.public_id)],
        "produce_id": [output_make(succeeded).produce_id, output_make(text).produce_id],
        "seq": [sealed.first_seq, LogEntry.objects.order_by("-seq").values_list("seq", flat=True)[0]],
        "number": [sealed.number],
    }


def _job(kind: str, params: dict[str, Any], key: str) -> Any:
    return lambda platform: {
        "body": {"kind": kind, "params": params},
        "media_type": "application/json",
        "headers": {"Idempotency-Key": key},
    }


# Valid requests that random data seldom hits: jobs of each kind (the same key twice, then with another body),
# and a report of an existing output.
FIXED = {
    "POST /api/v1/jobs/": [
        _job("gan", {"digit": 3, "count": 2}, "fixed-1"),
        _job("gan", {"digit": 3, "count": 2}, "fixed-1"),
        _job("gan", {"digit": 4}, "fixed-1"),
        _job("vae", {"seed": 1, "interpolate_to_seed": 2, "steps": 3}, "fixed-2"),
        _job("lm", {"tune": "测试调", "opening": "春风", "temperature": 0.8, "top_k": 5}, "fixed-3"),
    ],
    "POST /api/v1/reports/": [
        lambda platform: {
            "body": {"produce_id": platform["produce_id"][0], "reason": "label", "details": "x"},
            "media_type": "application/json",
        }
    ],
}


def _tokens(users: list[Any]) -> None:
    # The run revokes the token (DELETE auth/token/): put it back before each request.
    for user in users:
        Token.objects.get_or_create(user=user, defaults={"key": TOKENS[user.username]})


def _generate(operation: Any, mode: GenerationMode, deadline: float, send: Callable[[Any], None]) -> None:
    """Send EXAMPLES requests of ``mode`` to ``operation`` (derandomized, not shrunk), or fewer once past
    ``deadline``: at least one."""
    sent = 0

    @hypothesis_settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def generated(case: Any) -> None:
        nonlocal sent
        if not sent or time.monotonic() <= deadline:
            sent += 1
            send(case)

    try:
        generated()
    except Unsatisfiable:
        # Nothing of the operation can be made invalid (DELETE auth/token/ takes no input).
        assert mode is GenerationMode.NEGATIVE, operation.label


@pytest.fixture
def _no_persistent_connections(monkeypatch: pytest.MonkeyPatch) -> None:
    """The live server answers each request in a thread of its own; with CONN_MAX_AGE its connection outlives
    the thread and keeps the test database open at teardown (PostgreSQL). Close it at the request's end."""
    monkeypatch.setitem(connections.settings["default"], "CONN_MAX_AGE", 0)


@pytest.mark.usefixtures("_no_persistent_connections")
def test_the_live_api_answers_every_generated_request_as_its_schema_says(live_server, platform):
    schema = schemathesis.openapi.from_url(f"{live_server.url}/api/schema/")
    session = requests.Session()
    failures: dict[str, str] = {}  # one example of each kind of failure
    answered: dict[str, set[int]] = {}  # the status codes each operation answered with

    def send(case: Any) -> None:
        # The auditor's API as an auditor, the end-user API as an end user.
        caller = "auditor" if case.operation.path.startswith("/audit/") else "fuzzer"
        headers = {"Authorization": f"Token {TOKENS[caller]}", "Accept-Language": "en"}
        _tokens(platform["users"])
        session.cookies.clear()  # each request stands alone: no CSRF or session cookie carried over
        cache.clear()  # the throttle counters of the token endpoint
        response = case.call(base_url=live_server.url, session=session, headers=headers)
        answered.setdefault(case.operation.label, set()).add(response.status_code)
        try:
            case.validate_response(response, checks=CHECKS, headers=headers)
        except FailureGroup as group:
            for failure in group.exceptions:
                key = f"{case.operation.label}: {failure.title} ({response.status_code})"
                failures.setdefault(key, f"{key}\n{failure.message}\n{case.as_curl_command(headers=headers)}")

    operations = [result.ok() for result in schema.get_all_operations()]
    for operation in operations:
        deadline = time.monotonic() + OPERATION_SECONDS
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            _generate(operation, mode, deadline, send)
        # The rows that exist, so that the detail operations answer 200 as well as 404.
        for name in [parameter.name for parameter in operation.path_parameters]:
            for value in platform[name]:
                send(operation.Case(path_parameters={name: value}))
        for fixed in FIXED.get(operation.label, []):
            send(operation.Case(**fixed(platform)))

    assert set(answered) == {operation.label for operation in operations}
    for label in ("GET /api/v1/jobs/", "GET /api/v1/jobs/{public_id}/", "GET /api/v1/outputs/"):
        assert 200 in answered[label], label
    for label in ("GET /api/v1/outputs/{produce_id}/", "GET /api/v1/reports/", "GET /api/v1/nets/"):
        assert 200 in answered[label], label
    for operation in operations:
        if operation.path.startswith("/audit/"):
            assert 200 in answered[operation.label], operation.label
    assert {201, 200, 422} <= answered["POST /api/v1/jobs/"]
    assert 201 in answered["POST /api/v1/reports/"]
    assert not failures, f"{len(failures)} kinds of failure:\n\n" + "\n\n".join(failures.values())

"""Lists that stay flat: the first page of a user's jobs and outputs, for a user with 10,000 jobs against one
with 20, in one run and one database (with 100,000 jobs of other users around them).

Measured as the user gets them: the web history page (``/history/``, keyset pages), the API's job list and
output list (``/api/v1/jobs/``, ``/api/v1/outputs/``, cursor pages), each p50 of RUNS requests through Django's
test client with the user signed in, with the SQL statements of one request and the plan of the jobs query.

Goal: the first page of the job list at most 1.1x slower for the user with 10,000 jobs than for the one with 20.
"""

from __future__ import annotations

import statistics
import time
import uuid
from typing import Any

HEAVY_JOBS = 10_000
LIGHT_JOBS = 20
OTHER_USERS = 50
OTHER_JOBS_EACH = 2_000
RUNS = 100
GOAL = 1.1


def _jobs_for(user: Any, count: int) -> None:
    """``count`` succeeded LM jobs of ``user``, one text output each, spread over the past (one a minute)."""
    from django.db import connection

    from generation.models import Job, Output

    batch = 5_000
    for start in range(0, count, batch):
        size = min(batch, count - start)
        jobs = Job.objects.bulk_create(
            Job(user=user, kind="lm", params={"prompt": "春"}, seed=i, status=Job.Status.SUCCEEDED)
            for i in range(start, start + size)
        )
        Output.objects.bulk_create(
            Output(job=job, index=0, produce_id=uuid.uuid4().hex, media="text", text="春眠不觉晓", sha256="0" * 64)
            for job in jobs
        )
    if connection.vendor != "postgresql":
        return  # on SQLite they keep their creation order (the id breaks the ties)
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE generation_job SET created_at = now() - ((SELECT max(id) FROM generation_job) - id) "
            "* interval '1 minute' WHERE user_id = %s",
            [user.pk],
        )
        cursor.execute(
            "UPDATE generation_output o SET created_at = j.created_at FROM generation_job j "
            "WHERE o.job_id = j.id AND j.user_id = %s",
            [user.pk],
        )
        cursor.execute("ANALYZE generation_job")
        cursor.execute("ANALYZE generation_output")


def _user(name: str) -> Any:
    from django.contrib.auth import get_user_model

    from genai_platform.roles import Role
    from generation.access import user_role_add

    user = get_user_model().objects.create_user(username=name)  # signed in by force_login
    user_role_add(user=user, role=Role.END_USER)
    return user


def _p50s(light: Any, heavy: Any, path: str) -> tuple[float, float]:
    """p50 of RUNS requests of ``path`` by each client, interleaved so that drift hits both alike."""
    from django.core.cache import cache

    times: dict[Any, list[float]] = {light: [], heavy: []}
    for run in range(RUNS):
        if run % 50 == 0:
            cache.clear()  # the API's rate limit would stop a benchmark's burst of requests
        for client in (light, heavy) if run % 2 else (heavy, light):
            started = time.perf_counter()
            response = client.get(path)
            times[client].append(time.perf_counter() - started)
            assert response.status_code == 200, (path, response.status_code)
    return statistics.median(times[light]) * 1000, statistics.median(times[heavy]) * 1000


def _statements(client: Any, path: str) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        client.get(path)
    return len(queries)


def _plan(user: Any) -> str:
    from django.db import connection

    from generation.enduser import jobs_of

    query = jobs_of(user=user)[:11]
    if connection.vendor != "postgresql":
        return "(plans are shown on PostgreSQL)"
    return str(query.explain(analyze=True))


def main() -> None:
    from benchmarks.scratch import guard

    guard()
    from django.db import connection
    from django.test import Client

    print(f"database: {connection.vendor}; loading {OTHER_USERS * OTHER_JOBS_EACH + HEAVY_JOBS + LIGHT_JOBS:,} jobs")
    for n in range(OTHER_USERS):
        _jobs_for(_user(f"bench-other-{n}"), OTHER_JOBS_EACH)
    light, heavy = _user("bench-light"), _user("bench-heavy")
    _jobs_for(light, LIGHT_JOBS)
    _jobs_for(heavy, HEAVY_JOBS)

    clients = {}
    for name, user in (("light", light), ("heavy", heavy)):
        client = Client(HTTP_ACCEPT_LANGUAGE="en")
        client.force_login(user)
        clients[name] = client
        for path in ("/history/", "/api/v1/jobs/", "/api/v1/outputs/"):
            client.get(path)  # warm

    print(f"first page, p50 of {RUNS} requests (ms), {LIGHT_JOBS} jobs vs {HEAVY_JOBS:,} jobs:")
    ratios = {}
    for label, path in (
        ("web history", "/history/"),
        ("API job list", "/api/v1/jobs/"),
        ("API output list", "/api/v1/outputs/"),
    ):
        light_ms, heavy_ms = _p50s(clients["light"], clients["heavy"], path)
        statements = _statements(clients["heavy"], path)
        ratios[label] = heavy_ms / light_ms
        print(
            f"  {label:16s} {light_ms:7.2f} vs {heavy_ms:7.2f}  ratio {ratios[label]:.2f}x  "
            f"({statements} SQL statements a request)"
        )
    print("plan of the jobs query (user with 10,000 jobs):")
    for line in _plan(heavy).splitlines():
        print(f"    {line}")
    worst = max(ratios["web history"], ratios["API job list"])
    verdict = "met" if worst <= GOAL else "not met"
    print(f"goal: job list first page at most {GOAL}x, {HEAVY_JOBS:,} jobs vs {LIGHT_JOBS}: {worst:.2f}x ({verdict})")

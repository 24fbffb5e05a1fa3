"""Outages of the backing services, with real servers that the test stops and starts.

The test starts its own redis-server and its own PostgreSQL instance on free ports (whatever the suite
itself runs on), the platform under gunicorn and a Celery worker pointed at them. It stops each server,
checks what clients see (reads keep working without Redis; submissions and, without the database,
everything answer 503 with Retry-After), starts it again and checks that the platform recovers by itself.
"""

from __future__ import annotations

import glob
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import BASE_DIR, SERVICE_VARIABLES

pytestmark = [pytest.mark.integration]

REDIS_SERVER = shutil.which("redis-server")
PG_BIN = next(iter(sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)), "")
if not REDIS_SERVER or not PG_BIN or not Path(PG_BIN, "initdb").exists():
    pytest.skip(
        "the outage tests need redis-server and PostgreSQL's initdb/pg_ctl (/usr/lib/postgresql/*/bin)",
        allow_module_level=True,
    )

RETRY_AFTER = "17"  # GENAI_OUTAGE_RETRY_AFTER for the platform under test: the header must come from it


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


class RedisServer:
    def __init__(self, folder: Path) -> None:
        self.port = _free_port()
        self.folder = folder
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        assert REDIS_SERVER
        self.process = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            cwd=self.folder,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait_for(lambda: _port_open(self.port), 10, "redis-server")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process = None


class PostgresServer:
    """A throwaway cluster. PostgreSQL refuses to run as root, so as root it runs as ``postgres``."""

    def __init__(self) -> None:
        self.port = _free_port()
        # Not under pytest's tmp_path: its parents are private to root, and the server runs as postgres.
        self.folder = Path(tempfile.mkdtemp(prefix="genai-outage-pg-"))
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            shutil.chown(self.folder, user="postgres")
            self.as_user = ["runuser", "-u", "postgres", "--"]
        self.data = self.folder / "data"
        subprocess.run(
            [*self.as_user, f"{PG_BIN}/initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync"],
            check=True,
            capture_output=True,
        )

    def start(self) -> None:
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1"
        # A throwaway cluster: durability only slows the migrations down.
        options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        subprocess.run(
            [*self.as_user, f"{PG_BIN}/pg_ctl", "-D", str(self.data), "-l", str(self.folder / "log"), "-o", options]
            + ["-w", "start"],
            check=True,
            capture_output=True,
        )

    def stop(self, mode: str = "fast") -> None:
        subprocess.run(
            [*self.as_user, f"{PG_BIN}/pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop"],
            capture_output=True,
        )

    def remove(self) -> None:
        self.stop(mode="immediate")  # thrown away: no shutdown checkpoint
        shutil.rmtree(self.folder, ignore_errors=True)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Stack:
    redis: RedisServer
    postgres: PostgresServer
    env: dict[str, str]
    base_url: str
    log: Path
    token: str
    session: str
    helper: subprocess.Popen[str]

    @property
    def helper_log(self) -> Path:
        return self.log.parent / "helper.log"

    @property
    def worker_log(self) -> Path:
        return self.log.parent / "worker.log"

    def python(self, code: str) -> Any:
        """Run ``code`` in the platform's Django (one process for the module: each start costs seconds) and
        return the value it leaves in ``result``. Each run starts on fresh database connections."""
        helper = self.helper
        assert helper.stdin and helper.stdout
        helper.stdin.write(json.dumps(code) + "\n")
        helper.stdin.flush()
        for line in helper.stdout:
            if line.startswith(HELPER_MARK):
                answer = json.loads(line[len(HELPER_MARK) :])
                assert answer["ok"], answer["error"]
                return answer["result"]
        raise AssertionError(f"the Django helper ended: {self.helper_log.read_text()[-3000:]}")

    def request(
        self, method: str, path: str, *, body: bytes | None = None, headers: dict[str, str] | None = None
    ) -> Answer:
        opener = urllib.request.build_opener(_NoRedirect)
        url = self.base_url + path  # always http://127.0.0.1:<port>/...
        request = urllib.request.Request(url, data=body, method=method, headers=headers or {})  # noqa: S310
        try:
            with opener.open(request, timeout=30) as response:
                return Answer(response.status, dict(response.headers), response.read())
        except urllib.error.HTTPError as error:
            return Answer(error.code, dict(error.headers), error.read())

    def api(self, method: str, path: str, payload: dict[str, Any] | None = None) -> Answer:
        headers = {"Authorization": f"Token {self.token}", "Accept-Language": "en"}
        body = None
        if payload is not None:
            body = json.dumps(payload).encode()
            headers["Content-Type"] = "application/json"
        return self.request(method, path, body=body, headers=headers)

    def page(self, method: str, path: str, form: dict[str, str] | None = None, language: str = "en") -> Answer:
        headers = {"Cookie": f"sessionid={self.session}", "Accept-Language": language}
        body = None
        if form is not None:
            # The form's CSRF token, from a fresh page (this needs the database, so it is fetched first).
            page = self.request("GET", path, headers=headers)
            token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page.body)
            cookie = re.search(r"csrftoken=([^;]+)", page.headers.get("Set-Cookie", ""))
            assert token and cookie, page.status
            form = form | {"csrfmiddlewaretoken": token.group(1).decode()}
            headers["Cookie"] += f"; csrftoken={cookie.group(1)}"
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            body = urllib.parse.urlencode(form).encode()
        return self.request(method, path, body=body, headers=headers)

    def log_count(self, text: str) -> int:
        return self.log.read_text(errors="replace").count(text)


HELPER_MARK = "@@outage-helper "
# Reads JSON-encoded code, one per line, runs it and answers on a line that starts with HELPER_MARK.
HELPER = f"""
import json, sys, traceback
import django
django.setup()
from django.db import connections
for line in sys.stdin:
    connections.close_all()
    scope = {{}}
    try:
        exec(json.loads(line), scope)
        answer = {{"ok": True, "result": scope.get("result")}}
    except Exception:
        answer = {{"ok": False, "error": traceback.format_exc()}}
    print({HELPER_MARK!r} + json.dumps(answer), flush=True)
"""

SETUP = """
import json
from django.core.management import call_command
call_command("migrate", verbosity=0)
call_command("demo_data", stdout=open("/dev/null", "w"))
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.contrib.sessions.backends.db import SessionStore
from generation.accounts import token_issue
user = get_user_model().objects.get(username="enduser")
session = SessionStore()
session[SESSION_KEY] = str(user.pk)
session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
session[HASH_SESSION_KEY] = user.get_session_auth_hash()
session.create()
result = {"token": token_issue(user=user), "session": session.session_key}
"""


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    folder = tmp_path_factory.mktemp("outage")
    redis, postgres = RedisServer(folder), PostgresServer()
    server: subprocess.Popen[bytes] | None = None
    worker: subprocess.Popen[bytes] | None = None
    helper: subprocess.Popen[str] | None = None
    try:
        redis.start()
        postgres.start()
        subprocess.run(
            [f"{PG_BIN}/createdb", "-h", "127.0.0.1", "-p", str(postgres.port), "-U", "postgres", "genai"], check=True
        )
        env = {k: v for k, v in os.environ.items() if k not in SERVICE_VARIABLES and not k.startswith("DJANGO_")}
        env |= {
            # The test settings: the base settings with a fast password hasher (the demo users are made at set-up).
            "DJANGO_SETTINGS_MODULE": "genai_platform.settings.test",
            "DATABASE_URL": f"postgres://postgres@127.0.0.1:{postgres.port}/genai",
            "REDIS_URL": f"redis://127.0.0.1:{redis.port}/0",
            "GENAI_DATA_DIR": str(folder / "data"),
            "GENAI_OUTAGE_RETRY_AFTER": RETRY_AFTER,
            "GENAI_CACHE_RETRY_SECONDS": "0.2",
            "GENAI_LOG_FORMAT": "text",
            "DJANGO_LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
        }
        port = _free_port()
        # The three start together: each start of Django costs seconds, and only the helper needs the tables now.
        helper = subprocess.Popen(
            [sys.executable, "-c", HELPER],
            cwd=BASE_DIR,
            env=env,
            text=True,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            start_new_session=True,
            stderr=(folder / "helper.log").open("w"),
        )
        stack = Stack(redis, postgres, env, f"http://127.0.0.1:{port}", folder / "web.log", "", "", helper)
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", "1", "--timeout", "60"]
            + ["genai_platform.wsgi:application"],
            cwd=BASE_DIR,
            env=env,
            start_new_session=True,
            stdout=stack.log.open("w"),
            stderr=subprocess.STDOUT,
        )
        # The worker lives through the outages of all the tests.
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "genai_platform", "worker", "--pool", "solo"]
            + ["--queues", "inference,default", "--hostname", "outage@%h", "--loglevel", "WARNING"],
            cwd=BASE_DIR,
            env=env,
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=stack.worker_log.open("w"),
        )
        credentials = stack.python(SETUP)
        stack.token, stack.session = credentials["token"], credentials["session"]
        _wait_for(lambda: _port_open(port), 30, "gunicorn")
        yield stack
    finally:
        for process in (server, worker, helper):
            if process is not None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=30)
        redis.stop()
        postgres.remove()


def _job_count(stack: Stack) -> int:
    """The user's jobs, counted through the API's pages."""
    count, path = 0, "/api/v1/jobs/?page_size=100"
    while path:
        answer = stack.api("GET", path)
        assert answer.status == 200, answer.body[:500]
        body = answer.json()
        count += len(body["results"])
        path = body["next"] and body["next"][body["next"].index("/api/") :]
    return count


GAN_JOB = {"kind": "gan", "params": {"digit": 3, "count": 1}}
GAN_FORM = {"kind": "gan", "gan-digit": "3", "gan-count": "1"}


def test_without_redis_reads_work_and_submissions_answer_503_then_recover(stack: Stack) -> None:
    # given a platform that serves, with its cache and broker on Redis
    assert stack.api("GET", "/api/v1/jobs/").status == 200
    before = _job_count(stack)

    # when Redis stops
    stack.redis.stop()
    try:
        # then reads keep working (the request rates are counted in the process), and say so once in the log
        for _ in range(5):
            assert stack.api("GET", "/api/v1/jobs/").status == 200
            assert stack.api("GET", "/api/v1/nets/").status == 200
        assert stack.page("GET", "/history/").status == 200
        assert stack.log_count("cache (Redis) unreachable") == 1

        # and a submission through the API is refused before anything is stored, with the error body and Retry-After
        refused = stack.api("POST", "/api/v1/jobs/", GAN_JOB)
        assert refused.status == 503, refused.body[:500]
        assert refused.headers["Retry-After"] == RETRY_AFTER
        error = refused.json()["error"]
        assert error["code"] == "broker_unavailable" and "job queue cannot be reached" in error["message"]

        # and so is one through the web form, with the reason on the page
        page = stack.page("POST", "/generate/", GAN_FORM)
        assert page.status == 503
        assert page.headers["Retry-After"] == RETRY_AFTER
        assert b"job queue cannot be reached" in page.body
        assert _job_count(stack) == before
        assert stack.api("GET", "/readyz").json()["checks"]["broker"]["ok"] is False
    finally:
        stack.redis.start()

    # when Redis is back, with no one touching the platform: it takes jobs again and logs the recovery once
    time.sleep(0.3)  # GENAI_CACHE_RETRY_SECONDS
    accepted = stack.api("POST", "/api/v1/jobs/", GAN_JOB)
    assert accepted.status == 201, accepted.body[:500]
    assert stack.page("POST", "/generate/", GAN_FORM).status == 302
    assert _job_count(stack) == before + 2
    assert stack.log_count("cache (Redis) reachable again") == 1
    assert stack.log_count("cache (Redis) unreachable") == 1


def test_without_postgresql_pages_and_api_answer_503_then_recover(stack: Stack) -> None:
    # given a platform that serves
    assert stack.api("GET", "/api/v1/jobs/").status == 200
    assert stack.page("GET", "/generate/").status == 200

    # when PostgreSQL stops
    stack.postgres.stop()
    try:
        # then the API answers 503 with its error body and Retry-After, reads and writes alike
        for method, payload in (("GET", None), ("POST", GAN_JOB)):
            answer = stack.api(method, "/api/v1/jobs/", payload)
            assert answer.status == 503, answer.body[:500]
            assert answer.headers["Retry-After"] == RETRY_AFTER
            assert answer.json()["error"]["code"] == "database_unavailable"
        # and pages answer 503 with a plain page that needs no database, in the visitor's language
        page = stack.page("GET", "/generate/")
        assert page.status == 503 and page.headers["Retry-After"] == RETRY_AFTER
        assert b"temporarily unavailable" in page.body and b'lang="en"' in page.body
        page_zh = stack.page("GET", "/history/", language="zh-hans")
        assert page_zh.status == 503 and b'lang="zh-hans"' in page_zh.body
        assert stack.request("GET", "/readyz").status == 503
        assert stack.log_count("database unreachable") == 1
    finally:
        stack.postgres.start()

    # when it is back, the next requests connect again by themselves
    assert stack.api("GET", "/api/v1/jobs/").status == 200
    assert stack.page("GET", "/generate/").status == 200
    assert stack.request("GET", "/readyz").status == 200
    assert stack.log_count("database reachable again") == 1


# A job whose row committed while the broker went away (between the check before storing and the send after
# commit): the send fails after the commit, and must neither raise nor lose the job.
STORE_WITHOUT_BROKER = """
from django.contrib.auth import get_user_model
from generation.checkpoints import checkpoint_serving
from generation.params import params_clean
from generation.services.jobs import _job_store, request_hash
user = get_user_model().objects.get(username="enduser")
params, seed = params_clean("gan", {"digit": 5, "count": 1})
job = _job_store(user=user, kind="gan", params=params, seed=seed, checkpoint=checkpoint_serving("gan"),
                  idempotency_key=None, digest=request_hash("gan", params), request=None)
result = {"id": str(job.public_id), "status": job.status}
"""

SWEEP = """
from datetime import timedelta
from django.conf import settings
from django.utils import timezone
from generation.services import jobs_sweep
result = jobs_sweep(now=timezone.now() + timedelta(seconds=settings.JOB_RESEND_SECONDS + 1))
"""

JOB_FACTS = """
from generation.models import Job
job = Job.objects.get(public_id="{public_id}")
result = {{"status": job.status, "attempts": job.attempts, "outputs": job.outputs.count(),
          "rows": Job.objects.filter(params=job.params, seed=job.seed).count()}}
"""


def test_a_worker_whose_broker_goes_away_loses_no_job(stack: Stack) -> None:
    # given the platform's worker, consuming its queues on Redis (started with the platform),
    # and a job just accepted, so that Redis goes away while its message waits or the worker runs it
    accepted = stack.api("POST", "/api/v1/jobs/", {"kind": "gan", "params": {"digit": 7, "count": 16}})
    assert accepted.status == 201, accepted.body[:500]
    in_flight = accepted.json()["id"]

    # when Redis goes away (and comes back empty: it keeps nothing), and a job's row commits while it is away
    stack.redis.stop()
    try:
        stored = stack.python(STORE_WITHOUT_BROKER)
    finally:
        stack.redis.start()
    assert stored["status"] == "queued"

    # then the sweeper sends again what is still queued, and the worker, which reconnects by itself,
    # runs each job once
    stack.python(SWEEP)

    def finished(public_id: str) -> bool:
        answer = stack.api("GET", f"/api/v1/jobs/{public_id}/")
        return answer.status == 200 and answer.json()["status"] in ("succeeded", "failed")

    try:
        _wait_for(lambda: finished(stored["id"]) and finished(in_flight), 45, "the jobs to finish")
    except AssertionError:
        raise AssertionError(stack.worker_log.read_text(errors="replace")[-3000:]) from None
    assert stack.python(JOB_FACTS.format(public_id=in_flight)) == {
        "status": "succeeded",
        "attempts": 1,
        "outputs": 16,
        "rows": 1,
    }
    assert stack.python(JOB_FACTS.format(public_id=stored["id"])) == {
        "status": "succeeded",
        "attempts": 1,
        "outputs": 1,
        "rows": 1,
    }

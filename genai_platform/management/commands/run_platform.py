"""Start the whole platform on one machine: web server, Celery worker and scheduler.

Each child runs in its own session so that Ctrl-C reaches only this supervisor, which then
stops the children in order (SIGTERM to each process group, SIGKILL after a grace period) and
waits for them, so nothing is left behind. If one child dies, the others are stopped too: a
half-running platform is worse than a stopped one.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from genai_platform.queues import Queue

_PR_SET_PDEATHSIG = 1
_GRACE_SECONDS = 15


def _die_with_parent() -> None:
    # Linux only: a child gets SIGTERM if the supervisor is killed without a chance to clean up.
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        pass


def _port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


class Command(BaseCommand):
    help = "Start the web server, a Celery worker and the periodic scheduler; Ctrl-C stops them all."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--host", default=os.environ.get("GENAI_HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("GENAI_PORT", "8000")))
        parser.add_argument("--concurrency", type=int, default=2, help="inference worker processes (default 2)")
        parser.add_argument("--no-beat", action="store_true", help="do not start the periodic scheduler")

    def handle(self, *args: Any, host: str, port: int, concurrency: int, no_beat: bool, **options: Any) -> None:
        if not _port_free(host, port):
            raise CommandError(
                f"Port {port} on {host} is already in use; choose another with PORT=<n> (make) or --port."
            )
        manage = str(Path(settings.BASE_DIR) / "manage.py")
        python = sys.executable
        if settings.DEBUG:
            web = [python, manage, "runserver", f"{host}:{port}", "--noreload", "--skip-checks"]
        else:
            web = [python, "-m", "gunicorn", "genai_platform.wsgi", "--bind", f"{host}:{port}", "--workers", "2"]
        celery = [python, "-m", "celery", "-A", "genai_platform", "--quiet"]
        serving_queues = ",".join(q.value for q in Queue if q is not Queue.TRAINING)
        # Training gets a worker of its own, so a long training run never delays an end user's job.
        commands: dict[str, list[str]] = {
            "web": web,
            "worker": [
                *celery,
                "worker",
                "--queues",
                serving_queues,
                "--concurrency",
                str(concurrency),
                "--hostname",
                "embedded@%h",
                "--loglevel",
                "INFO",
            ],
            "worker-training": [
                *celery,
                "worker",
                "--queues",
                Queue.TRAINING.value,
                "--concurrency",
                "1",
                "--hostname",
                "training@%h",
                "--loglevel",
                "INFO",
            ],
        }
        if not no_beat:
            commands["beat"] = [*celery, "beat", "--loglevel", "INFO"]

        self.children: dict[str, subprocess.Popen[bytes]] = {}
        self.stopping = False
        pid_file = Path(settings.DATA_DIR) / "run" / "platform.json"
        signal.signal(signal.SIGINT, self._request_stop)
        signal.signal(signal.SIGTERM, self._request_stop)
        exit_code = 0
        try:
            for name, command in commands.items():
                self.children[name] = subprocess.Popen(command, start_new_session=True, preexec_fn=_die_with_parent)
            pid_file.parent.mkdir(parents=True, exist_ok=True)
            pid_file.write_text(json.dumps({"supervisor": os.getpid()} | {n: p.pid for n, p in self.children.items()}))
            exit_code = self._supervise(host, port)
        finally:
            self._stop_all()
            pid_file.unlink(missing_ok=True)
        if exit_code:
            raise CommandError("The platform stopped because a process exited; see its messages above.")

    def _request_stop(self, signum: int, frame: object) -> None:
        self.stopping = True

    def _supervise(self, host: str, port: int) -> int:
        announced = False
        deadline = time.monotonic() + 120
        while not self.stopping:
            for name, child in self.children.items():
                if child.poll() is not None:
                    self.stderr.write(f"{name} exited with code {child.returncode}; stopping the platform.")
                    return 1
            if not announced and _port_open(host, port):
                display_host = "localhost" if host in ("127.0.0.1", "0.0.0.0") else host  # noqa: S104 (a name, not a bind)
                self.stdout.write(self.style.SUCCESS(f"genai-platform is running at http://{display_host}:{port}/"))
                self.stdout.write("Press Ctrl-C to stop the web server, the worker and the scheduler.")
                self.stdout.flush()
                announced = True
            if not announced and time.monotonic() > deadline:
                self.stderr.write("The web server did not start listening within 120 seconds.")
                return 1
            time.sleep(0.2)
        return 0

    def _stop_all(self) -> None:
        self.stdout.write("Stopping…")
        # SIGTERM to each child itself, not its group: a Celery worker stops its own pool processes
        # (a warm shutdown); signalling them directly leaves the worker waiting for them.
        for child in self.children.values():
            if child.poll() is None:
                try:
                    os.kill(child.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + _GRACE_SECONDS
        for name, child in self.children.items():
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.stderr.write(f"{name} did not stop within {_GRACE_SECONDS} s; killing it.")
        # Kill whatever is left in each child's process group (worker pool processes included).
        for child in self.children.values():
            try:
                os.killpg(child.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            child.wait()
        self.stdout.write("Stopped.")

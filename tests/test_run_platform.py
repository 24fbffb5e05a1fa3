"""`make run`'s supervisor: serves a page, its worker executes tasks, Ctrl-C leaves nothing behind."""

import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = [pytest.mark.smoke, pytest.mark.integration]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "State:\tZ" not in status


def _descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, IndexError):
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def _platform_started(python: str, env: dict[str, str], tmp_path: Path, *options: str):  # type: ignore[no-untyped-def]
    """Migrate, start ``run_platform`` in a session of its own and wait for its URL: (process, port, log file)."""
    subprocess.run([python, "manage.py", "migrate", "-v", "0"], env=env, check=True, timeout=180)
    port = _free_port()
    log = (tmp_path / "run.log").open("w+")
    # A session of its own stands in for the terminal's foreground process group.
    proc = subprocess.Popen(
        [python, "manage.py", "run_platform", "--port", str(port), *options],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while f"http://localhost:{port}/" not in Path(log.name).read_text():
        if proc.poll() is not None or time.monotonic() > deadline:
            os.killpg(proc.pid, signal.SIGKILL)
            pytest.fail(f"no URL printed within a minute:\n{Path(log.name).read_text()}")
        time.sleep(0.2)
    return proc, port, log


def test_run_platform_serves_runs_tasks_and_stops_cleanly_on_ctrl_c(python, embedded_env, tmp_path):
    proc, port, log = _platform_started(python, embedded_env, tmp_path)
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as page:
            assert page.status == 200
            assert "genai-platform" in page.read().decode()

        ping = subprocess.run(
            [python, "manage.py", "workers_ping", "--timeout", "60"],
            env=embedded_env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert ping.returncode == 0, ping.stdout + ping.stderr
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=10) as ready:
            assert set(json.load(ready)["workers"]) == {"default", "inference", "training", "exports"}

        pids = json.loads((tmp_path / "data" / "run" / "platform.json").read_text())
        everything = {proc.pid} | _descendants(proc.pid)
        assert {pids["web"], pids["worker"], pids["worker-training"], pids["beat"]} <= everything
    finally:
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C does to the foreground group
        proc.wait(timeout=60)

    time.sleep(0.5)
    assert not [pid for pid in everything if _alive(pid)], Path(log.name).read_text()[-2000:]
    assert "Stopped." in Path(log.name).read_text()
    assert not (tmp_path / "data" / "run" / "platform.json").exists()


def test_run_platform_refuses_a_busy_port_with_one_sentence(python, embedded_env):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [python, "manage.py", "run_platform", "--port", str(port)],
            env=embedded_env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    assert result.returncode != 0
    assert f"Port {port} on 127.0.0.1 is already in use" in result.stderr
    assert "Traceback" not in result.stderr


def _training_state(data_dir: Path) -> tuple[str, int, int]:
    """(status, epochs recorded, checkpoints kept) of the one training run in the embedded database."""
    import sqlite3

    with sqlite3.connect(data_dir / "db.sqlite3", timeout=30) as db:
        row = db.execute("SELECT id, status FROM generation_trainingrun ORDER BY id DESC LIMIT 1").fetchone()
        if row is None:
            return ("", 0, 0)
        epochs = db.execute("SELECT COUNT(*) FROM generation_trainingepoch WHERE run_id = ?", [row[0]]).fetchone()[0]
        kept = db.execute("SELECT COUNT(*) FROM generation_checkpoint WHERE training_run_id = ?", [row[0]]).fetchone()
    return (row[1], epochs, kept[0])


def test_ctrl_c_during_a_training_run_stops_everything_soon_and_keeps_the_best_epoch(python, embedded_env, tmp_path):
    # As `make run` does: the demo data record why the bundled nets' data sets (the 28x28 digits among them) need
    # no source safety check, without which training refuses them.
    subprocess.run([python, "manage.py", "migrate", "-v", "0"], env=embedded_env, check=True, timeout=180)
    subprocess.run([python, "manage.py", "demo_data"], env=embedded_env, check=True, timeout=300, capture_output=True)
    proc, _port, log = _platform_started(python, embedded_env, tmp_path, "--no-beat")
    follower = None
    try:
        # A long run on the platform's training worker: 500 epochs of the VAE on the 28x28 digits.
        follower = subprocess.Popen(
            [python, "manage.py", "train", "vae", "--epochs", "500", "--worker"],
            env=embedded_env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 180
        while _training_state(tmp_path / "data")[:2] < ("running", 1) or _training_state(tmp_path / "data")[0] != (
            "running"
        ):
            assert time.monotonic() < deadline, f"the run did not train an epoch: {_training_state(tmp_path / 'data')}"
            time.sleep(0.5)
        stopped_from = time.monotonic()
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C does to the foreground group
        proc.wait(timeout=60)
        took = time.monotonic() - stopped_from
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        if follower is not None:
            follower.kill()

    status, epochs, kept = _training_state(tmp_path / "data")
    print(f"stopped {took:.1f} s after Ctrl-C")
    assert took <= 10, f"stopping took {took:.1f} s\n{Path(log.name).read_text()[-3000:]}"
    assert status == "interrupted" and epochs >= 1 and kept == 1, Path(log.name).read_text()[-3000:]

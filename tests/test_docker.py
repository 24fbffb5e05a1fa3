"""What can be checked of docker/ without a Docker engine: the compose file and the Dockerfile."""

import importlib
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from django.core.management import get_commands

from genai_platform.queues import Queue

pytestmark = pytest.mark.smoke

DOCKER_DIR = Path(__file__).resolve().parent.parent / "docker"


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((DOCKER_DIR / "compose.yaml").read_text())


def _option(command: list[str], name: str) -> str:
    return command[command.index(name) + 1]


def test_compose_has_the_production_layout(compose):
    services = compose["services"]
    assert {"postgres", "redis", "web", "worker-inference", "worker-training", "scheduler"} <= set(services)
    for name in ("postgres", "redis", "web", "worker-inference", "worker-training"):
        assert "healthcheck" in services[name], f"{name} has no healthcheck"
    assert {"pgdata", "redisdata", "miniodata"} <= set(compose["volumes"])


def test_compose_keeps_the_stored_files_in_a_bucket_and_scales_the_workers(compose):
    services = compose["services"]
    assert {"minio", "bucket"} <= set(services)
    app = services["web"]["environment"]
    assert app["GENAI_S3_BUCKET"] and app["GENAI_S3_ENDPOINT_URL"] == "http://minio:9000"
    assert app["GENAI_AUDIT_ANCHOR_PATH"].startswith("s3://")
    for name in ("web", "worker-inference", "worker-training", "scheduler"):
        assert not services[name].get("volumes"), f"{name} mounts a volume: hosts must share no file system"
    assert services["worker-inference"]["deploy"]["replicas"] >= 2


def test_every_service_command_matches_an_entry_point_of_the_code(compose):
    consumed: set[str] = set()
    for name, service in compose["services"].items():
        command = service.get("command")
        if not command or name in ("postgres", "redis", "minio", "bucket"):
            continue
        if command[0] == "gunicorn":
            module, _, attr = command[1].partition(":")
            assert hasattr(importlib.import_module(module), attr or "application"), name
        elif command[:2] == ["python", "manage.py"]:
            assert command[2] in get_commands(), f"{name}: no management command {command[2]}"
        elif command[:3] == ["celery", "-A", "genai_platform"]:
            assert command[3] in ("worker", "beat"), name
            if command[3] == "worker":
                queues = _option(command, "--queues").split(",")
                assert set(queues) <= {q.value for q in Queue}, f"{name} consumes an unknown queue"
                consumed.update(queues)
        else:
            pytest.fail(f"{name}: command {command} is not an entry point of the platform")
    assert consumed == {q.value for q in Queue}, "some queue has no worker in compose.yaml"


def test_dockerfile_runs_as_non_root_on_a_slim_image():
    dockerfile = (DOCKER_DIR / "Dockerfile").read_text()

    assert all("-slim" in line for line in dockerfile.splitlines() if line.startswith("FROM "))
    user_lines = [line for line in dockerfile.splitlines() if line.startswith("USER ")]
    assert user_lines and user_lines[-1].split()[1] not in ("root", "0")
    # Requirements are installed before the source is copied, so code changes reuse that layer.
    assert dockerfile.index("COPY requirements.txt") < dockerfile.index("COPY --chown")


@pytest.mark.skipif(
    not shutil.which("docker") or subprocess.run(["docker", "compose", "version"], capture_output=True).returncode != 0,
    reason="the Docker client has no compose plugin on this machine; the file is checked by parsing above",
)
def test_docker_compose_config_validates():
    result = subprocess.run(
        ["docker", "compose", "-f", str(DOCKER_DIR / "compose.yaml"), "config", "--quiet"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr

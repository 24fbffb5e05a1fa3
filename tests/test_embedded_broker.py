"""The embedded broker's polling interval: read from the environment, refused when not a usable number."""

import subprocess

import pytest

pytestmark = pytest.mark.smoke

# What a worker's connection uses: the transport Celery builds from the settings, not the settings themselves.
_PRINT_INTERVAL = (
    "import django; django.setup()\n"
    "from genai_platform.celery import app\n"
    "with app.connection_for_read() as connection:\n"
    "    print(type(connection.transport).__module__, connection.transport.polling_interval)\n"
)


def _interval(python: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([python, "-c", _PRINT_INTERVAL], env=env, capture_output=True, text=True, timeout=120)


def test_a_worker_connection_polls_the_files_as_often_as_configured(python, embedded_env):
    result = _interval(python, embedded_env | {"GENAI_EMBEDDED_BROKER_POLL_SECONDS": "0.35"})

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["kombu.transport.filesystem", "0.35"]


def test_the_embedded_default_polls_far_more_often_than_kombus_one_second(python, embedded_env):
    result = _interval(python, embedded_env)

    assert result.returncode == 0, result.stderr
    module, interval = result.stdout.split()
    assert module == "kombu.transport.filesystem"
    assert 0 < float(interval) <= 0.05


@pytest.mark.parametrize("value", ["fast", "0", "-1", "60"])
def test_an_unusable_interval_stops_the_start_with_one_line_naming_it(python, embedded_env, value):
    result = _interval(python, embedded_env | {"GENAI_EMBEDDED_BROKER_POLL_SECONDS": value})

    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "genai-platform: configuration error: GENAI_EMBEDDED_BROKER_POLL_SECONDS must be a number of seconds "
        f"above 0, at most 10: {value!r}"
    ]

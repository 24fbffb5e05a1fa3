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
    assert result.stdout.split() == ["genai_platform.broker", "0.35"]


def test_the_embedded_default_polls_far_more_often_than_kombus_one_second(python, embedded_env):
    result = _interval(python, embedded_env)

    assert result.returncode == 0, result.stderr
    module, interval = result.stdout.split()
    assert module == "genai_platform.broker"
    assert 0 < float(interval) <= 0.05


@pytest.mark.parametrize("value", ["fast", "0", "-1", "60"])
def test_an_unusable_interval_stops_the_start_with_one_line_naming_it(python, embedded_env, value):
    result = _interval(python, embedded_env | {"GENAI_EMBEDDED_BROKER_POLL_SECONDS": value})

    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "genai-platform: configuration error: GENAI_EMBEDDED_BROKER_POLL_SECONDS must be a number of seconds "
        f"above 0, at most 10: {value!r}"
    ]


def test_a_message_shows_in_its_queue_only_once_written_whole(tmp_path, monkeypatch):
    import os
    from queue import Empty

    from kombu import Connection

    folders = {name: tmp_path / name for name in ("queue", "processed", "control")}
    for folder in folders.values():
        folder.mkdir()
    options = {
        "data_folder_in": str(folders["queue"]),
        "data_folder_out": str(folders["queue"]),
        "processed_folder": str(folders["processed"]),
        "control_folder": str(folders["control"]),
    }
    connection = Connection("filesystem://", transport="genai_platform.broker:Transport", transport_options=options)
    channel = connection.default_channel
    # What a worker looking at the queue finds at the moment the message file is complete but not yet in place.
    found_while_writing: list[object] = []
    rename = os.replace

    def look_then_rename(source: str, target: str) -> None:
        try:
            found_while_writing.append(channel._get("inference"))
        except Empty:
            found_while_writing.append(None)
        rename(source, target)

    monkeypatch.setattr(os, "replace", look_then_rename)

    channel._put("inference", {"body": "job 7"})

    assert found_while_writing == [None]
    assert channel._get("inference") == {"body": "job 7"}
    connection.release()

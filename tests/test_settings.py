"""Production mode: secrets from the environment or no start; `check --deploy` clean; JSON logs."""

import json
import subprocess

import pytest

from genai_platform.settings.secrets import signing_key_new

pytestmark = pytest.mark.smoke


def _production_env(embedded_env: dict[str, str], **overrides: str) -> dict[str, str]:
    env = embedded_env | {
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": "k" * 30 + "-production-secret-key-with-variety-0123456789",
        "DJANGO_ALLOWED_HOSTS": "genai.example.cn",
        "GENAI_LABEL_SIGNING_KEY": signing_key_new(),
        "GENAI_AUDIT_SIGNING_KEY": signing_key_new(),
        "GENAI_AUDIT_TAG_KEY": signing_key_new(),
    }
    for name, value in overrides.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def _manage(python: str, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([python, "manage.py", *args], env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(
    "missing",
    [
        "DJANGO_SECRET_KEY",
        "GENAI_LABEL_SIGNING_KEY",
        "GENAI_AUDIT_SIGNING_KEY",
        "GENAI_AUDIT_TAG_KEY",
        "DJANGO_ALLOWED_HOSTS",
    ],
)
def test_production_refuses_to_start_without_a_secret_and_names_it(python, embedded_env, missing):
    env = _production_env(embedded_env)
    del env[missing]

    result = _manage(python, env, "check")

    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert missing in lines[0]
    assert "Traceback" not in result.stderr


def test_production_rejects_a_malformed_signing_key(python, embedded_env):
    env = _production_env(embedded_env, GENAI_LABEL_SIGNING_KEY="bm90LTMyLWJ5dGVz")  # "not-32-bytes"

    result = _manage(python, env, "check")

    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
        "genai-platform: configuration error: GENAI_LABEL_SIGNING_KEY must encode exactly 32 bytes "
        "(an Ed25519 seed); it encodes 12."
    ]


def test_production_rejects_a_short_audit_tag_key(python, embedded_env):
    env = _production_env(embedded_env, GENAI_AUDIT_TAG_KEY="c2hvcnQ=")  # "short"

    result = _manage(python, env, "check")

    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
        "genai-platform: configuration error: GENAI_AUDIT_TAG_KEY must encode at least 32 bytes; it encodes 5."
    ]


def test_production_settings_pass_check_deploy_with_no_warning(python, embedded_env):
    result = _manage(python, _production_env(embedded_env), "check", "--deploy", "--fail-level", "WARNING")

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_production_logs_are_json_lines(python, embedded_env):
    code = (
        "import django, logging; django.setup(); "
        "logging.getLogger('genai').warning('页面 %s', 'ok', extra={'job_id': 7})"
    )
    env = _production_env(embedded_env) | {"DJANGO_SETTINGS_MODULE": "genai_platform.settings.base"}

    result = subprocess.run([python, "-c", code], env=env, capture_output=True, text=True, timeout=60)

    assert result.returncode == 0, result.stderr
    entry = json.loads(result.stderr.strip().splitlines()[-1])
    assert entry["message"] == "页面 ok"
    assert entry["level"] == "WARNING"
    assert entry["logger"] == "genai"
    assert entry["job_id"] == 7


def test_development_logs_are_readable_text(python, embedded_env):
    code = "import django, logging; django.setup(); logging.getLogger('genai').warning('hello')"
    result = subprocess.run([python, "-c", code], env=embedded_env, capture_output=True, text=True, timeout=60)

    line = result.stderr.strip().splitlines()[-1]
    assert line.endswith("WARNING genai: hello")
    assert not line.startswith("{")


def test_development_generates_secrets_once_and_keeps_them(python, embedded_env, tmp_path):
    code = (
        "import django; django.setup(); from django.conf import settings; "
        "print(settings.SECRET_KEY, settings.LABEL_SIGNING_KEY)"
    )
    first = subprocess.run([python, "-c", code], env=embedded_env, capture_output=True, text=True, timeout=60)
    second = subprocess.run([python, "-c", code], env=embedded_env, capture_output=True, text=True, timeout=60)

    assert first.returncode == 0, first.stderr
    assert first.stdout == second.stdout
    key_file = tmp_path / "data" / "keys" / "django-secret-key"
    assert key_file.stat().st_mode & 0o777 == 0o600

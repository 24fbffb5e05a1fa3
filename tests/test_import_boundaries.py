"""The web process never imports torch when it runs (the static layers and boundaries are import-linter's
contracts in pyproject.toml, checked by `make lint`)."""

import subprocess

import pytest

pytestmark = pytest.mark.smoke


def test_importing_the_web_urls_does_not_import_torch(python, embedded_env):
    code = (
        "import sys, django; django.setup(); "
        "from django.urls import get_resolver; import genai_platform.urls; get_resolver().url_patterns; "
        "import genai_platform.wsgi; "
        "print('torch' in sys.modules)"
    )
    result = subprocess.run([python, "-c", code], env=embedded_env, capture_output=True, text=True, timeout=120)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"

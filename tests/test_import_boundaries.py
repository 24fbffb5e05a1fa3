"""The web process never imports torch; `audit` imports no other app of the project."""

import ast
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.smoke

BASE_DIR = Path(__file__).resolve().parent.parent


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


def _imported_top_level_modules(package: Path) -> set[str]:
    names: set[str] = set()
    for path in package.rglob("*.py"):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module.split(".")[0])
    return names


def test_audit_imports_no_other_app():
    assert not _imported_top_level_modules(BASE_DIR / "audit") & {"filing", "generation"}


def test_filing_never_imports_generation():
    assert "generation" not in _imported_top_level_modules(BASE_DIR / "filing")

"""README.md stays true: every environment variable the code reads is documented there."""

import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.smoke

BASE_DIR = Path(__file__).resolve().parent.parent
# env("X"…), env.bool("X"…), os.environ.get("X"…), signing_key("X"…), required_list("X"…)
_READ = re.compile(
    r"""(?:\benv(?:\.\w+)?|os\.environ\.get|os\.environ\.setdefault|signing_key|required_list)\(\s*["']([A-Z][A-Z0-9_]+)["']"""
)
_IGNORED = {"DJANGO_SETTINGS_MODULE"}


def _variables_read_by_the_code() -> set[str]:
    names: set[str] = set()
    for package in ("genai_platform", "filing", "generation", "audit"):
        for path in (BASE_DIR / package).rglob("*.py"):
            names.update(_READ.findall(path.read_text()))
    return names - _IGNORED


def test_every_environment_variable_is_in_the_readme_table():
    readme = (BASE_DIR / "README.md").read_text()
    variables = _variables_read_by_the_code()

    assert "DATABASE_URL" in variables and "GENAI_LABEL_SIGNING_KEY" in variables
    assert [name for name in sorted(variables) if f"`{name}`" not in readme] == []


def test_no_variable_is_documented_twice():
    readme = (BASE_DIR / "README.md").read_text()
    rows = [line.split("|")[1] for line in readme.splitlines() if line.startswith("| `")]
    names = [name.strip(" `") for row in rows for name in row.split(",")]
    assert len(names) == len(set(names))


def test_readme_gives_the_two_commands():
    readme = (BASE_DIR / "README.md").read_text()

    assert "make run" in readme and "make test" in readme

"""Settings for the test suite: the base settings, with what only tests need changed.

The database and broker still come from the environment, so the same suite runs on the embedded
default and on PostgreSQL + Redis. Workers in tests are real workers; nothing runs eagerly.
"""

import os
from pathlib import Path

# Tests keep their files (SQLite database, broker folders, media) apart from a running platform's.
os.environ.setdefault("GENAI_DATA_DIR", str(Path(__file__).resolve().parents[2] / "var" / "test"))

from .base import *  # noqa: E402, F403
from .base import DATA_DIR, DATABASES  # noqa: E402

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file rather than an in-memory database: worker threads and subprocesses started by the
    # integration tests must see what the test wrote.
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / "test-db.sqlite3")}

# The suite signs in many times from one address: no lockout unless a test asks for it (the lockout tests
# set a low limit with override_settings).
AXES_FAILURE_LIMIT = 10_000

# The lockout backend, except that Client.login (which passes no request) signs in as before.
AUTHENTICATION_BACKENDS = [
    "tests.login_backend.RequestlessLoginBackend",
    "django.contrib.auth.backends.ModelBackend",
]

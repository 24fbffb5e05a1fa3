"""Fixtures of the tests of the end-user pages."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from genai_platform.roles import Role


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Throttle counters and lockouts live in the cache, which outlives a test's database."""
    cache.clear()


@pytest.fixture
def enduser(client_for):
    return client_for(Role.END_USER, "ella")

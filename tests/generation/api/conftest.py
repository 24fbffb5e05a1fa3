from __future__ import annotations

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from genai_platform.roles import Role


@pytest.fixture(autouse=True)
def _fresh_throttles():
    """Throttle counters live in the cache, which outlives a test's database."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def api_for(user_with_role):
    """An API client signed in (by token) as a new user holding ``role``; ``client.user`` is that user."""
    from rest_framework.authtoken.models import Token

    def make(role: Role | None = Role.END_USER, username: str | None = None) -> APIClient:
        user = user_with_role(role, username)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
        client.user = user
        return client

    return make


@pytest.fixture
def alice(api_for):
    return api_for(Role.END_USER, "alice")


@pytest.fixture
def bob(api_for):
    return api_for(Role.END_USER, "bob")


@pytest.fixture
def gan_serving():
    """A digit GAN checkpoint serving end users."""
    from tests.generation.factories import checkpoint_tiny

    return checkpoint_tiny("gan")


@pytest.fixture
def lm_serving():
    """A text model checkpoint serving end users."""
    from tests.generation.factories import checkpoint_tiny

    return checkpoint_tiny("lm")

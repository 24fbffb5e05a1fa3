"""Fixtures of the generation tests."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _public_service(request: pytest.FixtureRequest, _migration_data: None) -> None:
    """Tests that use the database start with a public service that is filed, so it serves every user; a test of
    internal testing or of a missing public service changes that itself."""
    names = set(request.fixturenames)
    if request.node.get_closest_marker("django_db") is None and not names & {"db", "transactional_db"}:
        return
    from tests.generation.factories import service_serving

    service_serving()

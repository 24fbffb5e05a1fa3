"""Fixtures of the filing tests."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _shipped_safety_data(request: pytest.FixtureRequest) -> None:
    """Tests that use the database see the risk taxonomy and thresholds the migrations load.

    A transactional test anywhere earlier in the run flushes every table, and with it the data
    the migrations loaded; this puts it back (one query when it is there).
    """
    marker = request.node.get_closest_marker("django_db")
    names = set(request.fixturenames)
    if "transactional_db" in names or (marker is not None and marker.kwargs.get("transaction")):
        request.getfixturevalue("transactional_db")
    elif "db" in names or marker is not None:
        request.getfixturevalue("db")
    else:
        return
    from filing.safety.seed import safety_data_ensure

    safety_data_ensure()

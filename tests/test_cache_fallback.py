"""The Redis cache falls back to the process's own memory while Redis cannot be reached (no server needed:
nothing listens on the port), and says so once in the log."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator

import pytest

from genai_platform.cache import FallbackRedisCache
from genai_platform.outages import CACHE


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def unreachable_cache() -> Iterator[FallbackRedisCache]:
    assert not CACHE.down
    options = {"socket_connect_timeout": 0.5, "socket_timeout": 0.5}
    yield FallbackRedisCache(f"redis://127.0.0.1:{_closed_port()}/0", {"OPTIONS": options})
    CACHE.answered()  # this process's outage state back to normal for the tests that follow


def test_counts_go_on_in_the_process_and_the_outage_is_logged_once(unreachable_cache, caplog, settings):
    settings.CACHE_RETRY_SECONDS = 0  # every operation tries Redis again: still only one line in the log
    with caplog.at_level(logging.WARNING, logger="genai_platform.outages"):
        assert unreachable_cache.add("rate", 1, timeout=60) is True
        assert unreachable_cache.incr("rate") == 2
        assert unreachable_cache.get_or_set("other", 7) == 7
        unreachable_cache.set_many({"a": 1, "b": 2})
        assert unreachable_cache.get_many(["a", "b"]) == {"a": 1, "b": 2}
        assert unreachable_cache.get("rate") == 2
    outage_lines = [r for r in caplog.records if "cache (Redis) unreachable" in r.getMessage()]
    assert len(outage_lines) == 1
    assert "counted per process" in outage_lines[0].getMessage()
    assert CACHE.down

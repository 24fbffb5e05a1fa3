"""The Redis cache falls back to the process's own memory while Redis cannot be reached (no server needed:
nothing listens on the port), and says so once in the log."""

from __future__ import annotations

import logging
import os
import socket
import uuid
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


def test_windows_are_counted_in_the_process_while_redis_is_away(unreachable_cache, settings):
    settings.CACHE_RETRY_SECONDS = 0

    counts = [unreachable_cache.window_count("rate:alice", 60) for _ in range(3)]

    assert [count for count, _left in counts] == [1, 2, 3]
    assert all(1 <= left <= 60 for _count, left in counts)
    assert unreachable_cache.window_count("rate:bob", 60)[0] == 1


@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="counting on Redis needs the server REDIS_URL names")
def test_windows_are_counted_on_redis_in_one_round_trip():

    cache = FallbackRedisCache(os.environ["REDIS_URL"], {})
    key = f"window-test-{uuid.uuid4().hex}"

    first, second = cache.window_count(key, 30), cache.window_count(key, 30)

    assert (first[0], second[0]) == (1, 2)
    assert 1 <= second[1] <= 30
    assert cache.window_count(f"{key}-other", 30)[0] == 1
    cache.delete_many([key, f"{key}-other"])

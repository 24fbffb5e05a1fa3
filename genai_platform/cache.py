"""The Redis cache, with a local in-process cache to fall back on while Redis is unreachable.

The cache holds nothing that must survive: request-rate counters and short-lived counts. While Redis is
down each process counts on its own (a local limit rather than no limit, and no error for the request),
says so once in the log, and tries Redis again every ``CACHE_RETRY_SECONDS``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.redis import RedisCache
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from genai_platform.outages import CACHE

# Errors that mean "Redis is not there", as opposed to a bug in the call.
UNREACHABLE = (RedisConnectionError, RedisTimeoutError, OSError)


def _falling_back(name: str) -> Callable[..., Any]:
    """The cache operation ``name``, on Redis while it answers, else on the local cache."""

    def operation(self: FallbackRedisCache, *args: Any, **kwargs: Any) -> Any:
        return self._either(name, *args, **kwargs)

    operation.__name__ = operation.__qualname__ = name
    return operation


class FallbackRedisCache(RedisCache):
    """``RedisCache`` whose every operation falls back to a ``LocMemCache`` while Redis is unreachable."""

    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._local = LocMemCache(f"fallback-{server}", {"TIMEOUT": params.get("TIMEOUT", 300)})
        self._retry_at = 0.0
        self._writer: Any = None

    def _either(self, name: str, *args: Any, **kwargs: Any) -> Any:
        remote: Callable[..., Any] = getattr(super(), name)
        return self._on_redis_or_local(
            lambda: remote(*args, **kwargs), lambda: getattr(self._local, name)(*args, **kwargs)
        )

    def _on_redis_or_local(self, remote: Callable[[], Any], local: Callable[[], Any]) -> Any:
        if CACHE.down and time.monotonic() < self._retry_at:
            return local()
        try:
            result = remote()
        except UNREACHABLE as exc:
            self._retry_at = time.monotonic() + settings.CACHE_RETRY_SECONDS
            CACHE.failed(exc, "request rates are counted per process until it answers")
            return local()
        CACHE.answered()
        return result

    def window_count(self, key: str, seconds: int) -> tuple[int, int]:
        """Count one more event under ``key`` in a window of ``seconds`` that opens with its first event: the events
        counted in the window so far, and the seconds until it closes. One round trip to Redis (a pipeline: open
        the window if none is open, add one, read what is left of it)."""

        def remote() -> tuple[int, int]:
            name = self.make_and_validate_key(key)
            if self._writer is None:  # one client on the connection pool, rather than a new one for each count
                self._writer = self._cache.get_client(name, write=True)
            pipeline = self._writer.pipeline(transaction=False)
            pipeline.set(name, 0, ex=seconds, nx=True)
            pipeline.incr(name)
            pipeline.ttl(name)
            _opened, count, left = pipeline.execute()
            return int(count), max(int(left), 1)

        return self._on_redis_or_local(remote, lambda: _local_window_count(self._local, key, seconds))  # type: ignore[no-any-return]

    # The operations RedisCache sends to Redis; the cache's others (get_or_set, decr, the async ones) call these.
    add = _falling_back("add")
    get = _falling_back("get")
    set = _falling_back("set")
    touch = _falling_back("touch")
    delete = _falling_back("delete")
    get_many = _falling_back("get_many")
    has_key = _falling_back("has_key")
    incr = _falling_back("incr")
    set_many = _falling_back("set_many")
    delete_many = _falling_back("delete_many")
    clear = _falling_back("clear")


def _local_window_count(cache: LocMemCache, key: str, seconds: int) -> tuple[int, int]:
    """``FallbackRedisCache.window_count`` on this process's own cache."""
    now = time.time()
    count, closes = cache.get(key) or (0, now + seconds)
    count += 1
    left = max(math.ceil(closes - now), 1)
    cache.set(key, (count, closes), left)
    return count, left

"""The Redis cache, with a local in-process cache to fall back on while Redis is unreachable.

The cache holds nothing that must survive: request-rate counters and short-lived counts. While Redis is
down each process counts on its own (a local limit rather than no limit, and no error for the request),
says so once in the log, and tries Redis again every ``CACHE_RETRY_SECONDS``.
"""

from __future__ import annotations

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

    def _either(self, name: str, *args: Any, **kwargs: Any) -> Any:
        if CACHE.down and time.monotonic() < self._retry_at:
            return getattr(self._local, name)(*args, **kwargs)
        remote: Callable[..., Any] = getattr(super(), name)
        try:
            result = remote(*args, **kwargs)
        except UNREACHABLE as exc:
            self._retry_at = time.monotonic() + settings.CACHE_RETRY_SECONDS
            CACHE.failed(exc, "request rates are counted per process until it answers")
            return getattr(self._local, name)(*args, **kwargs)
        CACHE.answered()
        return result

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

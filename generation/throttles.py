"""Request rates per user, shared by the web pages and the API (DRF throttles; the web form asks
``JobSubmitThrottle`` directly, so that both count against one allowance of job submissions)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle, UserRateThrottle

from genai_platform.client_address import client_address


class _SettingsRateThrottle(SimpleRateThrottle):
    """Reads its rate from settings at request time, so a changed setting applies without restart."""

    def get_rate(self) -> str | None:
        rates: Any = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
        return rates.get(self.scope)

    def allow_request(self, request: Request, view: Any) -> bool:
        """On a cache that counts in windows (``FallbackRedisCache.window_count``), one round trip: the rate's
        requests in a window that opens with the first of them. Otherwise DRF's sliding history (two)."""
        counting = getattr(self.cache, "window_count", None)
        if counting is None or self.rate is None:
            return bool(super().allow_request(request, view))
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        count, self._window_left = counting(self.key, self.duration)
        return bool(count <= self.num_requests)

    def wait(self) -> float | None:
        left = getattr(self, "_window_left", None)
        return super().wait() if left is None else float(left)

    def get_ident(self, request: Request) -> str:
        # X-Forwarded-For only as far as the trusted proxies wrote it (GENAI_TRUSTED_PROXY_COUNT).
        return client_address(request)

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        ident = request.user.pk if request.user and request.user.is_authenticated else self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}


class EndUserThrottle(_SettingsRateThrottle, UserRateThrottle):
    scope = "enduser"


class JobSubmitThrottle(_SettingsRateThrottle):
    """Job submissions per user; the web form and the API share one allowance."""

    scope = "enduser_jobs"


class JobCreateThrottle(JobSubmitThrottle):
    def allow_request(self, request: Request, view: Any) -> bool:
        if request.method != "POST" or getattr(view, "action", None) != "create":
            return True
        return super().allow_request(request, view)


class TokenThrottle(_SettingsRateThrottle):
    scope = "token"

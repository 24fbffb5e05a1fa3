"""The sign-in lockout backend of the test settings."""

from __future__ import annotations

from typing import Any

from axes.backends import AxesStandaloneBackend


class RequestlessLoginBackend(AxesStandaloneBackend):
    """The lockout backend, except that ``Client.login`` (which passes no request) signs in as before.
    Every sign-in through a page or the API passes its request, and the lockout tests go through those."""

    def authenticate(self, request: Any, *args: Any, **kwargs: Any) -> None:
        if request is not None:
            super().authenticate(request, *args, **kwargs)

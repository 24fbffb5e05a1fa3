"""Names the acting user of each request for the change history of filing records."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from filing.history import acting_as


class FilingActorMiddleware:
    """Place after ``AuthenticationMiddleware``: filing changes made while handling a request are
    attributed to its user (token-authenticated API users are resolved lazily by the history
    writer, which reads ``request.user`` when it writes)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        with acting_as(None, request=request):
            return self.get_response(request)

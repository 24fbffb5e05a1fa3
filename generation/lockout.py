"""What a locked-out sign-in sees (django-axes calls ``lockout_response``, settings ``AXES_LOCKOUT_CALLABLE``).

After ``AXES_FAILURE_LIMIT`` failed sign-ins for one account or from one client address, every attempt is
refused, the right password included, until the cool-off period has passed since the last attempt. The web
and admin log-in pages answer with a page saying how many minutes to wait; the API token endpoint answers 429
with the API's error body and ``Retry-After``. The audit record of each locked-out attempt is written by
``audit.signals``.
"""

from __future__ import annotations

import math
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from generation.api.errors import error_body

# Requests under this path are API calls: they get the API's error body, not a page.
API_PATH_PREFIX = "/api/"


def lockout_wait_seconds() -> int:
    """How long a locked-out client waits at most: the cool-off period, which each attempt starts again."""
    return max(int(settings.AXES_COOLOFF_TIME.total_seconds()), 1)


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: dict[str, Any] | None = None
) -> HttpResponse:
    seconds = lockout_wait_seconds()
    minutes = math.ceil(seconds / 60)
    if request.path.startswith(API_PATH_PREFIX):
        message = _("Too many failed sign-ins. Try again in %(minutes)d minutes.") % {"minutes": minutes}
        return JsonResponse(error_body("locked_out", message), status=429, headers={"Retry-After": str(seconds)})
    response = render(request, "generation/account/locked_out.html", {"minutes": minutes}, status=429)
    response["Retry-After"] = str(seconds)
    return response

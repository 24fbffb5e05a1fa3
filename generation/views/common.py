"""What the end-user pages share: the access rule and the htmx polling stop."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlparse

from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponseBase
from django.shortcuts import render
from django.urls import reverse

from genai_platform.roles import Role, user_has_role

# htmx stops polling when a response has this status (and still shows its content).
HTMX_STOP_POLLING = 286


def enduser_required(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    """Anonymous visitors go to the log-in page; signed-in users without the end_user role get a 403 page."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not request.user.is_authenticated:
            if request.headers.get("HX-Request"):
                # A polling page whose session ended: stop polling and say so instead of showing a login page.
                page = urlparse(request.headers.get("HX-Current-URL", "")).path or "/"
                return render(request, "generation/_session_ended.html", {"next": page}, status=HTMX_STOP_POLLING)
            return redirect_to_login(request.get_full_path(), login_url=reverse("login"))
        if not user_has_role(request.user, Role.END_USER):
            return render(request, "generation/no_access.html", status=403)
        return view(request, *args, **kwargs)

    return wrapped

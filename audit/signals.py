"""Sign-ins, failed sign-ins, lockouts and sign-outs become audit events (the security log of CSL Art 23).

django-axes (an app listed before ``audit``, so its receivers run first) counts the failures and flags a
request it refused or locked out; such an attempt is recorded as ``auth.login_failed`` with the reason
``locked_out`` and, from axes' ``user_locked_out`` signal, as ``auth.locked_out``.
"""

from __future__ import annotations

from typing import Any

from axes.signals import user_locked_out
from django.conf import settings
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db import transaction

from audit import services as audit


def _logged_in(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    with transaction.atomic():
        audit.auth_event(event_type="auth.login", actor=user, request=request, payload={"method": "password"})


def _attempt_refused(event_type: str, request: Any, username: str, **payload: Any) -> None:
    """A sign-in that signed no one in: the name tried, cut to the length of a user name, stands for the actor."""
    name = username[:150]
    with transaction.atomic():
        audit.auth_event(
            event_type=event_type, request=request, actor_username=name, payload={"username": name, **payload}
        )


def _login_failed(sender: Any, credentials: dict[str, Any], request: Any = None, **kwargs: Any) -> None:
    _attempt_refused(
        "auth.login_failed",
        request,
        str(credentials.get("username", "")),
        reason="locked_out" if getattr(request, "axes_locked_out", False) else "bad_credentials",
    )


def _locked_out(sender: Any, request: Any = None, username: str | None = None, **kwargs: Any) -> None:
    _attempt_refused(
        "auth.locked_out",
        request,
        str(username or ""),
        failure_limit=settings.AXES_FAILURE_LIMIT,
        cool_off_seconds=int(settings.AXES_COOLOFF_TIME.total_seconds()),
    )


def _logged_out(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    if user is None:
        return
    with transaction.atomic():
        audit.auth_event(event_type="auth.logout", actor=user, request=request)


def connect() -> None:
    user_logged_in.connect(_logged_in, dispatch_uid="audit.auth_login")
    user_login_failed.connect(_login_failed, dispatch_uid="audit.auth_login_failed")
    user_logged_out.connect(_logged_out, dispatch_uid="audit.auth_logout")
    user_locked_out.connect(_locked_out, dispatch_uid="audit.auth_locked_out")

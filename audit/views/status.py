"""The integrity banner and starting a verification, the public key that checks seals, the event catalogue."""

from __future__ import annotations

import base64

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET, require_POST

from audit import integrity, selectors, services
from audit.catalogue import EVENT_TYPES
from audit.progress import verification_forget, verification_queued
from audit.views.common import auditor_page, in_audit_time_zone
from genai_platform.roles import Role, role_required


@require_POST
@role_required(Role.AUDITOR)
@in_audit_time_zone
def verify_now(request: HttpRequest) -> HttpResponse:
    """Starts a verification; the banner then follows it (htmx asks for the banner alone, and gets it)."""
    from kombu.exceptions import OperationalError

    from audit.tasks import verify_task

    notice = ""
    verification_queued()
    try:
        verify_task.delay()
    except OperationalError:
        verification_forget()
        notice = _("The task queue cannot be reached; run manage.py audit_verify instead.")
    if request.headers.get("HX-Request"):
        return _banner(request, notice=notice)
    if notice:
        messages.error(request, notice)
    else:
        messages.info(request, _("Verification started; the banner shows its result when it ends."))
    back = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return redirect(back)
    return redirect("audit:log")


def _banner(request: HttpRequest, *, notice: str = "") -> HttpResponse:
    return render(request, "audit/_banner.html", {"status": selectors.integrity_status(), "notice": notice})


@auditor_page
def integrity_banner(request: HttpRequest) -> HttpResponse:
    """The integrity banner alone: what it polls while a verification runs."""
    return _banner(request)


@require_GET
@cache_control(public=True, max_age=3600)
def public_key(request: HttpRequest) -> JsonResponse:
    """The Ed25519 key that verifies seals, purge records and export manifests (public)."""
    raw = services.public_key_raw()
    current = integrity.key_id(raw)
    return JsonResponse(
        {
            "algorithm": "Ed25519",
            "key_id": current,
            "public_key": services.public_key_b64(),
            "encoding": "base64 of the 32 raw public key bytes",
            # Earlier keys still verify the seals and manifests they signed.
            "previous_keys": [
                {"key_id": kid, "public_key": base64.b64encode(key).decode()}
                for kid, key in services.public_keys().items()
                if kid != current
            ],
        }
    )


@require_GET
@role_required(Role.AUDITOR)
def catalogue(request: HttpRequest) -> HttpResponse:
    """The event types and what each payload holds, as declared in ``audit.catalogue``."""
    # (event, [(key name, key)]) pairs: a payload key may be called "items", which templates misread.
    events = [(EVENT_TYPES[name], list(EVENT_TYPES[name].payload.items())) for name in sorted(EVENT_TYPES)]
    return render(request, "audit/catalogue.html", {"events": events, "status": None})

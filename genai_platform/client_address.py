"""The client's address, as the one trusted proxy setting says to read it.

``TRUSTED_PROXY_COUNT`` (``GENAI_TRUSTED_PROXY_COUNT``) is the number of reverse proxies in front of the
platform that each append the address they received the request from to ``X-Forwarded-For``. With 0 (the
default) the header is ignored and ``REMOTE_ADDR`` is the client: anything a client writes in the header
itself is not trusted. With N, the client is the N-th address from the right of the header, which the
outermost trusted proxy wrote; whatever a client put to the left of it is ignored.

The same rule serves three readers, so that they always agree: the API's request-rate throttles (DRF's
``NUM_PROXIES`` is set from the same setting), the audit log's source address, and the sign-in lockout
(``AXES_CLIENT_IP_CALLABLE``).
"""

from __future__ import annotations

import ipaddress
from typing import Any

from django.conf import settings

FORWARDED_FOR_HEADER = "HTTP_X_FORWARDED_FOR"


def client_address(request: Any) -> str:
    """The client's IP address of ``request`` (a Django ``HttpRequest``); empty when unknown."""
    meta = request.META
    remote = str(meta.get("REMOTE_ADDR", "") or "")
    proxies = settings.TRUSTED_PROXY_COUNT
    forwarded = str(meta.get(FORWARDED_FOR_HEADER, "") or "")
    if proxies <= 0 or not forwarded:
        return remote
    hops = [hop.strip() for hop in forwarded.split(",")]
    # The same choice as DRF's SimpleRateThrottle.get_ident with NUM_PROXIES.
    chosen = hops[-min(proxies, len(hops))]
    try:
        return str(ipaddress.ip_address(chosen))
    except ValueError:
        # Not an address (a proxy set up otherwise than the setting says): the connection's address.
        return remote

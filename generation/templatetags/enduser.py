"""Template tags of the end-user pages: the service's public facts shown on every page."""

from __future__ import annotations

from typing import Any

from django import template

from filing.selectors import service_public as public_service_get
from genai_platform.roles import Role, user_has_role

register = template.Library()


@register.simple_tag
def service_public() -> dict[str, Any] | None:
    """Name, filing number, provider and models of the public service, as the rules ask to show them publicly.

    Only the one service an operator made public is ever shown; drafts and their edits are not.
    """
    service = public_service_get()
    if service is None:
        return None
    return {
        "name": service.name,
        "version": service.version,
        "filing_number": service.filing_number if service.open_to_public else "",
        "provider": service.provider.legal_name,
        "filed": service.open_to_public,
        "testing": service.in_internal_testing,
        "route": service.route,
        "models": [str(record) for record in service.model_records.filter(approval="approved").order_by("name")],
        "complaint_email": service.complaint_email,
        "complaint_phone": service.complaint_phone,
    }


@register.filter
def has_role(user: Any, role: str) -> bool:
    """``{% if user|has_role:"end_user" %}``: whether the user holds the role (superusers hold all)."""
    return user_has_role(user, Role(role))

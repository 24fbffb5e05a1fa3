"""Template tags of the end-user pages: the service's public facts shown on every page."""

from __future__ import annotations

from typing import Any

from django import template
from django.db.models import Case, IntegerField, Value, When

from filing.models import Service
from genai_platform.roles import Role, user_has_role

register = template.Library()


@register.simple_tag
def service_public() -> dict[str, Any] | None:
    """Name, filing number and provider of the service, as the rules ask to show them publicly.

    A filed service comes first; without one, the most recently updated service.
    """
    service = (
        Service.objects.select_related("provider")
        .annotate(
            filed_first=Case(
                When(status=Service.Status.FILED, then=Value(0)), default=Value(1), output_field=IntegerField()
            )
        )
        .order_by("filed_first", "-updated_at")
        .first()
    )
    if service is None:
        return None
    return {
        "name": service.name,
        "version": service.version,
        "filing_number": service.filing_number,
        "provider": service.provider.legal_name,
        "filed": service.status == Service.Status.FILED,
    }


@register.filter
def has_role(user: Any, role: str) -> bool:
    """``{% if user|has_role:"end_user" %}``: whether the user holds the role (superusers hold all)."""
    return user_has_role(user, Role(role))

"""Complaints and reports: received, taken on, resolved or rejected, each an audit event."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from filing.history import acting_as, history_collected
from filing.models import (
    Complaint,
    Service,
)
from filing.services.common import FilingError, actor_name


def complaint_create(
    *,
    channel: str,
    complainant: str,
    category: str,
    details: str = "",
    produce_id: str = "",
    service: Service | None = None,
    user: Any = None,
    request: Any = None,
    received_at: datetime | None = None,
    contact: str = "",
    pi_request: str = "",
    attachment: Any = None,
) -> Complaint:
    """Record a complaint or report (an end user's "report this output", or anyone's complaint on the open
    form) with its number and answer due date; a personal-information request names what it asks for.

    Writes the history record and a ``complaint.received`` audit event in one transaction.
    """

    if channel not in Complaint.Channel.values:
        raise FilingError(_("Unknown channel “%(c)s”.") % {"c": channel})
    if category not in Complaint.Category.values:
        raise FilingError(_("Unknown category “%(c)s”.") % {"c": category})
    if category == Complaint.Category.PERSONAL_INFORMATION and pi_request not in Complaint.PiRequest.values:
        raise FilingError(_("Say what the personal-information request asks for."))
    if category != Complaint.Category.PERSONAL_INFORMATION:
        pi_request = ""
    if service is None:
        from filing.selectors import service_public

        service = service_public()
    with acting_as(user, request=request), transaction.atomic():
        complaint = Complaint(
            service=service,
            channel=channel,
            complainant=complainant[:200],
            user_id=str(user.pk) if user is not None and getattr(user, "pk", None) else "",
            produce_id=produce_id[:64],
            category=category,
            pi_request=pi_request,
            contact=contact[:200],
            details=details,
            received_at=received_at or timezone.now(),
        )
        if attachment is not None:
            complaint.attachment = attachment
        with history_collected():  # the complaint.received record is the one record of this action
            complaint.save()
        complaint_received_record(complaint=complaint, actor=user, request=request)
    return complaint


def _complaint_event(
    event_type: str,
    *,
    complaint: Complaint,
    actor: Any,
    payload: dict[str, Any],
    changes: dict[str, list[Any]] | None = None,
    request: Any = None,
) -> None:
    """Append the ``complaint.*`` audit event of an action on ``complaint``, with the fields it changed if any."""
    from audit import services as audit

    audit.complaint_event(
        event_type=event_type,
        actor=actor,
        request=request,
        subject=complaint,
        produce_id=complaint.produce_id or None,
        payload={**payload, "changes": changes} if changes else payload,
    )


def complaint_received_record(*, complaint: Complaint, actor: Any = None, request: Any = None) -> None:
    """The ``complaint.received`` audit event of a complaint just stored (e.g. entered in the admin)."""
    _complaint_event(
        "complaint.received",
        complaint=complaint,
        actor=actor,
        request=request,
        payload={
            "category": complaint.category,
            "channel": complaint.channel,
            "due_at": complaint.due_at.isoformat() if complaint.due_at else None,
        },
    )


def complaint_status_record(
    *, complaint: Complaint, actor: Any, note: str = "", changes: dict[str, list[Any]] | None = None
) -> None:
    """The ``complaint.updated`` audit event after a change of state or handler, with the fields it changed."""
    payload: dict[str, Any] = {"status": complaint.status}
    if note:
        payload["note"] = note[:500]
    _complaint_event("complaint.updated", complaint=complaint, actor=actor, payload=payload, changes=changes)


def _changes_of(collected: dict[str, dict[str, list[Any]]], complaint: Complaint) -> dict[str, list[Any]]:
    return collected.get(f"{complaint._meta.label_lower} {complaint.pk}", {})


def complaint_take_on(*, complaint: Complaint, actor: Any) -> Complaint:
    """A handler takes on a received complaint."""
    if complaint.status != Complaint.Status.RECEIVED:
        raise FilingError(_("This complaint has already been taken on."))
    with acting_as(actor), transaction.atomic():
        complaint.status = Complaint.Status.IN_PROGRESS
        complaint.handler = actor_name(actor)
        with history_collected() as collected:
            complaint.save()
        complaint_status_record(complaint=complaint, actor=actor, changes=_changes_of(collected, complaint))
    return complaint


def complaint_resolve(
    *,
    complaint: Complaint,
    resolution: str,
    actor: Any,
    rejected: bool = False,
    changes: dict[str, list[Any]] | None = None,
) -> Complaint:
    """Close a complaint with its resolution (or the reasons it is rejected): one ``complaint.resolved`` record
    with every field the action changed (``changes``: those of an admin form saved with it)."""
    if not resolution.strip():
        raise FilingError(_("Describe how the complaint was resolved."))
    if not complaint.is_open:
        raise FilingError(_("This complaint is already closed."))
    with acting_as(actor), transaction.atomic():
        complaint.status = Complaint.Status.REJECTED if rejected else Complaint.Status.RESOLVED
        complaint.resolution = resolution.strip()
        complaint.resolved_at = timezone.now()
        complaint.handler = complaint.handler or actor_name(actor)
        with history_collected() as collected:
            complaint.save()
        _complaint_event(
            "complaint.resolved",
            complaint=complaint,
            actor=actor,
            payload={"action": complaint.status},
            changes={**(changes or {}), **_changes_of(collected, complaint)},
        )
    return complaint

"""Providers and services: creating them, the filing workflow (draft → self-assessed → submitted → filed /
returned → change pending → deregistered), the public service and its testers, publishing documents on the
site, and the emergency stop (应急处置) of a service or one model."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from filing.history import acting_as, history_write
from filing.models import (
    Document,
    ModelRecord,
    Provider,
    SelfAssessment,
    Service,
    ServiceTransition,
)
from filing.services.common import FilingError, actor_name
from filing.services.four_eyes import four_eyes_check, signed_off_save


@transaction.atomic
def provider_create(*, legal_name: str, uscc: str, **fields: Any) -> Provider:
    provider = Provider(legal_name=legal_name, uscc=uscc, **fields)
    provider.full_clean()
    provider.save()
    return provider


@transaction.atomic
def service_create(*, provider: Provider, name: str, version: str = "1.0", **fields: Any) -> Service:
    service = Service(provider=provider, name=name, version=version, **fields)
    service.full_clean()
    service.save()
    return service


S = Service.Status


# Which statuses each action starts from.
TRANSITIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "self_assess": ((S.DRAFT, S.RETURNED, S.CHANGE_PENDING), S.SELF_ASSESSED),
    "submit": ((S.SELF_ASSESSED,), S.SUBMITTED),
    "record_filed": ((S.SUBMITTED,), S.FILED),
    "record_returned": ((S.SUBMITTED,), S.RETURNED),
    "change_start": ((S.FILED,), S.CHANGE_PENDING),
    "deregister": ((S.DRAFT, S.SELF_ASSESSED, S.SUBMITTED, S.FILED, S.RETURNED, S.CHANGE_PENDING), S.DEREGISTERED),
}


FILING_NUMBER_PATTERNS = (
    # <province pinyin>-<model name pinyin>-<YYYYMMDD>[NNNN], e.g. Beijing-YunQue-20230821.
    re.compile(r"^[A-Za-z]+-[A-Za-z0-9]+-\d{8}(\d{4})?$"),
)


def filing_number_warning(number: str) -> str | None:
    """A warning when ``number`` does not look like the filing numbers seen so far; ``None`` if it does.

    The official format is not published, so an unusual number is accepted with this warning.
    """
    number = number.strip()
    if any(p.match(number) for p in FILING_NUMBER_PATTERNS):
        return None
    return _(
        "“%(number)s” does not look like the usual filing numbers (for example Beijing-YunQue-20230821); "
        "it was kept: check it against the notice."
    ) % {"number": number}


def _transition(
    service: Service,
    action: str,
    *,
    actor: Any,
    note: str = "",
    request: Any = None,
    event_type: str | None = None,
    **fields: Any,
) -> Service:
    """Move ``service`` by ``action``, with its status history; a step with its own audit event (``event_type``)
    writes that, with the fields it changed, in place of a ``filing.changed`` record."""
    sources, target = TRANSITIONS[action]
    with acting_as(actor, request=request), transaction.atomic():
        locked = Service.objects.select_for_update().get(pk=service.pk)
        if locked.status not in sources:
            raise FilingError(
                _("“%(service)s” is %(status)s; this step needs it to be %(allowed)s.")
                % {
                    "service": locked,
                    "status": locked.get_status_display(),
                    "allowed": _(" or ").join(str(S(s).label) for s in sources),
                }
            )
        previous = locked.status
        for name, value in fields.items():
            setattr(locked, name, value)
        locked.status = target
        if event_type is None:
            locked.save()
        else:
            signed_off_save(event_type=event_type, record=locked, actor=actor, request=request, from_status=previous)
        ServiceTransition.objects.create(
            service=locked, from_status=previous, to_status=target, actor=actor_name(actor), note=note
        )
    service.refresh_from_db()
    return service


def service_self_assess(*, service: Service, actor: Any) -> Service:
    """Mark the service self-assessed; needs a finalised security self-assessment."""
    if not service.assessments.filter(status=SelfAssessment.Status.FINALISED).exists():
        raise FilingError(_("Finalise a security self-assessment of this service first."))
    return _transition(service, "self_assess", actor=actor)


def service_submit(*, service: Service, actor: Any, request: Any = None) -> Service:
    """Submit the filing; refused while the readiness checklist has blockers, and to the person who last changed
    the service record (four eyes). One ``filing.service_submitted`` audit record."""
    from filing.readiness import readiness_checklist

    blockers = [item for item in readiness_checklist(service) if not item.ok]
    if blockers:
        raise FilingError(
            _("The filing cannot be submitted while the checklist has blockers: %(items)s.")
            % {"items": "; ".join(str(item.title) for item in blockers)}
        )
    if service.status in TRANSITIONS["submit"][0]:  # otherwise the transition says why it cannot be submitted
        four_eyes_check(record=service, actor=actor, step="submit", request=request)
    return _transition(service, "submit", actor=actor, request=request, event_type="filing.service_submitted")


def service_record_filed(
    *, service: Service, filing_number: str, filed_on: date, actor: Any
) -> tuple[Service, str | None]:
    """Record the filing number issued; returns the service and a warning for an unusual number."""
    number = filing_number.strip()
    if not number:
        raise FilingError(_("Enter the filing number that was issued."))
    if filed_on is None:
        raise FilingError(_("Enter the date the filing number was issued."))
    service = _transition(
        service, "record_filed", actor=actor, note=number, filing_number=number, filed_on=filed_on, returned_reason=""
    )
    return service, filing_number_warning(number)


def service_record_returned(*, service: Service, reason: str, actor: Any) -> Service:
    if not reason.strip():
        raise FilingError(_("Give the reason the filing was returned."))
    return _transition(service, "record_returned", actor=actor, note=reason.strip(), returned_reason=reason.strip())


def service_change_start(*, service: Service, reason: str, actor: Any) -> Service:
    if not reason.strip():
        raise FilingError(_("Say what changes in the filed service."))
    return _transition(service, "change_start", actor=actor, note=reason.strip())


def service_make_public(*, service: Service, actor: Any, request: Any = None) -> Service:
    """Make ``service`` the one the site presents to the public, in place of the one that was.

    Each change is a filing history record (``filing.changed``) with the operator who made it.
    """
    if service.status == Service.Status.DEREGISTERED:
        raise FilingError(_("A deregistered service cannot be the public service."))
    with acting_as(actor, request=request), transaction.atomic():
        for previous in Service.objects.select_for_update().filter(is_public=True).exclude(pk=service.pk):
            previous.is_public = False
            previous.save()
        locked = Service.objects.select_for_update().get(pk=service.pk)
        if not locked.is_public:
            locked.is_public = True
            locked.save()
    service.refresh_from_db()
    return service


def service_testers_recorded(*, service: Service, before: set[str], actor: Any, request: Any = None) -> None:
    """Write the change of ``service``'s tester list (user names ``before`` → now) to the filing history."""
    after = set(service.testers.values_list("username", flat=True))
    if after != before:
        with acting_as(actor, request=request):
            history_write(instance=service, action="changed", changes={"testers": [sorted(before), sorted(after)]})


def service_deregister(*, service: Service, reason: str, actor: Any) -> Service:
    if not reason.strip():
        raise FilingError(_("Give the reason the service is deregistered."))
    return _transition(service, "deregister", actor=actor, note=reason.strip(), internal_testing=False)


PUBLISHABLE_DOCUMENTS = (Document.Kind.SERVICE_AGREEMENT, Document.Kind.PRIVACY_POLICY)


def document_publish(*, document: Document, actor: Any, request: Any = None) -> Document:
    """Publish a service agreement or privacy policy of the public service on the site; end users accept it
    before they generate again."""
    if document.kind not in PUBLISHABLE_DOCUMENTS:
        raise FilingError(_("Only a service agreement or a privacy policy is published on the site."))
    if not document.body.strip():
        raise FilingError(_("Write the text end users will read before publishing the document."))
    if not document.service.is_public:
        raise FilingError(_("The document belongs to a service that is not the public service."))
    with acting_as(actor, request=request), transaction.atomic():
        document.published_at = timezone.now()
        document.save()
    return document


def _generation_stop_set(
    *,
    target: Service | ModelRecord,
    stopped: bool,
    reason: str,
    actor: Any,
    request: Any,
    event_type: str,
    payload: dict[str, Any],
) -> None:
    """Stop (with ``reason``) or resume generation for ``target``: the record's stop fields change, and the audit
    event ``event_type`` names the scope and ``payload``."""
    from audit import services as audit

    with acting_as(actor, request=request), transaction.atomic():
        target.generation_stopped_at = timezone.now() if stopped else None
        target.generation_stop_reason = reason
        target.generation_stopped_by = actor_name(actor) if stopped else ""
        target.save()
        audit.incident_event(
            event_type=event_type,
            actor=actor,
            request=request,
            subject=target,
            payload={"scope": "service" if isinstance(target, Service) else "model", **payload},
        )


def generation_stop(*, target: Service | ModelRecord, reason: str, actor: Any, request: Any = None) -> None:
    """Stop generation for a service or one model record now. End users see a plain notice; the stop is an
    audit event and a change of the record's history."""
    reason = (reason or "").strip()
    if not reason:
        raise FilingError(_("Give the reason generation is stopped."))
    _generation_stop_set(
        target=target,
        stopped=True,
        reason=reason,
        actor=actor,
        request=request,
        event_type="incident.generation_stopped",
        payload={"reason": reason},
    )


def generation_resume(*, target: Service | ModelRecord, actor: Any, note: str = "", request: Any = None) -> None:
    """Let a stopped service or model record generate again."""
    if target.generation_stopped_at is None:
        return
    _generation_stop_set(
        target=target,
        stopped=False,
        reason="",
        actor=actor,
        request=request,
        event_type="incident.generation_resumed",
        payload={"note": note.strip()},
    )

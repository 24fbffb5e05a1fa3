"""Four eyes: approving a model record, finalising a self-assessment and submitting a service's filing need a
person other than the one who last changed the record (``last_changed_by``), while ``FILING_FOUR_EYES`` is on.

Each refusal is a ``filing.four_eyes_refused`` audit record, written before the ``FilingError`` is raised and
outside the step's transaction, so that it stays. The steps themselves write their own audit event
(``signed_off_record``) with the fields they changed, in place of a ``filing.changed`` record.
"""

from __future__ import annotations

from typing import Any, Literal

from django.conf import settings
from django.utils.translation import gettext as _

from filing.history import history_collected
from filing.models.four_eyes import SignedOffRecord
from filing.services.common import FilingError, actor_name

Step = Literal["approve", "finalise", "submit"]


def _person(actor: Any) -> bool:
    """Whether ``actor`` is a stored account (not the platform acting on its own)."""
    return actor is not None and getattr(actor, "pk", None) is not None and hasattr(actor, "get_username")


def record_changed_by(*, record: SignedOffRecord, actor: Any) -> None:
    """Note that ``actor`` changed what ``record`` files; the caller saves it. The platform's own changes (no
    person acting) leave the last person as it was."""
    if _person(actor):
        record.last_changed_by = actor


def record_changed_by_save(*, record: SignedOffRecord, actor: Any) -> None:
    """Note and store at once that ``actor`` changed rows that belong to ``record`` (its clauses, its compute ...)."""
    if _person(actor) and record.last_changed_by_id != actor.pk:
        type(record).objects.filter(pk=record.pk).update(last_changed_by=actor)
        record.last_changed_by = actor


def _refusal_message(step: Step, record: SignedOffRecord) -> str:
    if step == "approve":
        text = _("You made the last change to “%(record)s”, so another person must approve it (four eyes).")
    elif step == "finalise":
        text = _("You made the last change to “%(record)s”, so another person must finalise it (four eyes).")
    else:
        text = _("You made the last change to “%(record)s”, so another person must submit its filing (four eyes).")
    return text % {"record": record}


def four_eyes_refusal(*, record: SignedOffRecord, actor: Any, step: Step) -> str | None:
    """Why ``actor`` may not take ``step`` on ``record`` (as stored now); ``None`` when they may."""
    if not settings.FILING_FOUR_EYES or not _person(actor) or record.pk is None:
        return None
    last = type(record)._base_manager.filter(pk=record.pk).values_list("last_changed_by", flat=True).first()
    if last is None or last != actor.pk:
        return None
    return _refusal_message(step, record)


def _columns(record: SignedOffRecord) -> dict[str, Any]:
    """The audit columns that name the service's filing number and the model record."""
    from filing.models import ModelRecord, Service

    service = record if isinstance(record, Service) else record.service  # type: ignore[attr-defined]
    columns: dict[str, Any] = {"filing_number": service.filing_number or None}
    if isinstance(record, ModelRecord):
        columns["model_record"] = str(record)[:128]
    return columns


def four_eyes_check(*, record: SignedOffRecord, actor: Any, step: Step, request: Any = None) -> None:
    """Raise ``FilingError`` when ``actor`` may not take ``step`` on ``record``, after writing the refusal to the
    audit log. Reads who last changed ``record`` as stored, so that the step's save keeps it."""
    from audit import services as audit

    if record.pk is not None:
        record.refresh_from_db(fields=["last_changed_by"])
    refusal = four_eyes_refusal(record=record, actor=actor, step=step)
    if refusal is None:
        return
    audit.filing_event(
        event_type="filing.four_eyes_refused",
        actor=actor,
        request=request,
        subject=record,
        payload={"step": step, "last_changed_by": actor_name(actor)},
        **_columns(record),
    )
    raise FilingError(refusal)


def last_changed_by_name(record: SignedOffRecord) -> str:
    """The user name of whoever last changed ``record``; empty when no person did."""
    return actor_name(record.last_changed_by) if record.last_changed_by_id is not None else ""


def signed_off_save(
    *, event_type: str, record: SignedOffRecord, actor: Any, request: Any = None, **payload: Any
) -> None:
    """Save ``record`` as a sign-off step leaves it, and write the step's audit event (``event_type``, with
    ``payload``) naming the fields the save changed: every sign-off step records itself alike."""
    with history_collected() as collected:
        record.save()
    signed_off_record(
        event_type=event_type,
        record=record,
        actor=actor,
        request=request,
        last_changed_by=last_changed_by_name(record),
        collected=collected,
        **payload,
    )


def signed_off_record(
    *,
    event_type: str,
    record: SignedOffRecord,
    actor: Any,
    request: Any = None,
    last_changed_by: str,
    collected: dict[str, dict[str, list[Any]]],
    **payload: Any,
) -> None:
    """The audit event of a sign-off step on ``record`` (in the step's transaction): who acted, who had last changed
    the record, and the fields the step changed (``collected`` by ``history_collected``)."""
    from audit import services as audit

    changes = collected.get(f"{record._meta.label_lower} {record.pk}", {})
    audit.filing_event(
        event_type=event_type,
        actor=actor,
        request=request,
        subject=record,
        payload={"last_changed_by": last_changed_by, "changes": changes, **payload},
        **({} if _person(actor) or request is not None else {"actor_username": "system"}),
        **_columns(record),
    )

"""Model records: approval, rejection, and approval withdrawn when the model code changes."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from filing.history import acting_as
from filing.models import (
    ModelRecord,
)
from filing.services.common import FilingError, actor_name
from filing.services.four_eyes import four_eyes_check, signed_off_save


def model_record_approve(*, record: ModelRecord, actor: Any, request: Any = None) -> ModelRecord:
    """Approve the model record; refused while it is incomplete, and to the person who last changed it (four
    eyes). One ``filing.model_record_approved`` audit record."""
    try:
        record.code = record.code.strip().upper()
        record.full_clean()
    except ValidationError as exc:
        raise FilingError(_("The record is incomplete: %(errors)s") % {"errors": "; ".join(exc.messages)}) from exc
    four_eyes_check(record=record, actor=actor, step="approve", request=request)
    with acting_as(actor, request=request), transaction.atomic():
        record.approval = ModelRecord.Approval.APPROVED
        record.approved_by = actor_name(actor)
        record.approved_at = timezone.now()
        record.rejection_reason = ""
        signed_off_save(event_type="filing.model_record_approved", record=record, actor=actor, request=request)
    return record


def model_record_reject(*, record: ModelRecord, reason: str, actor: Any) -> ModelRecord:
    from filing.selectors import model_record_serving

    if not reason.strip():
        raise FilingError(_("Give the reason the model record is rejected."))
    if model_record_serving(record):
        raise FilingError(
            _(
                "“%(record)s” serves end users of the public service now: rejecting it would take that generator "
                "offline. Stop it first with the emergency stop, or serve another checkpoint, then reject it."
            )
            % {"record": record}
        )
    with acting_as(actor), transaction.atomic():
        record.approval = ModelRecord.Approval.REJECTED
        record.approved_by = actor_name(actor)
        record.approved_at = timezone.now()
        record.rejection_reason = reason.strip()
        record.save()
    return record


def model_record_code_change_withdraws_approval(*, record: ModelRecord, old_code: str) -> bool:
    """Before saving ``record`` with a new model code: an approved record goes back to pending approval, because
    the code is written into the label of every output and another person approves what the record files (four
    eyes). Returns whether the approval was withdrawn; the caller saves the record (its change history names who
    changed the code)."""
    if record.approval != ModelRecord.Approval.APPROVED or record.code.strip().upper() == old_code.strip().upper():
        return False
    record.approval = ModelRecord.Approval.PENDING
    record.approved_by = ""
    record.approved_at = None
    return True

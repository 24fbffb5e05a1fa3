"""Delivering outputs: labelled files (visible and implicit), delivery without the visible label to users who
accepted the labelling obligation, and removing outputs found unlawful."""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from audit import services as audit
from generation.models import Checkpoint, Job, Output


@dataclass
class Deliverable:
    media: str
    content: bytes
    text: str
    extension: str
    # The same output without the visible label (implicit label kept), for users allowed it.
    content_unlabelled: bytes | None = None


class UnlabelledRefused(Exception):
    """This user may not have this output without its visible label; ``message`` says why."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def unlabelled_delivery_version(*, user: Any, service: Any) -> str | None:
    """The labelling obligation version under which ``user`` may receive outputs of ``service`` without
    the visible label, or None: the service must offer it and the user must have accepted its current
    version (Labeling Measures Art 9)."""
    from generation.models import UserSettings

    if service is None or not service.unlabelled_delivery:
        return None
    accepted = UserSettings.objects.filter(user=user).values_list("labelling_obligation_version", flat=True).first()
    return accepted if accepted and accepted == service.labelling_obligation_version else None


def service_offering_unlabelled() -> Any:
    """The service whose nets serve now, if it offers content without the visible label."""
    checkpoint = (
        Checkpoint.objects.filter(is_active=True, model_record__isnull=False)
        .select_related("model_record__service")
        .order_by("pk")
        .first()
    )
    service = checkpoint.model_record.service if checkpoint and checkpoint.model_record else None
    return service if service is not None and service.unlabelled_delivery else None


@transaction.atomic
def labelling_obligation_set(*, user: Any, service: Any, accepted: bool, request: Any = None) -> None:
    """Record that ``user`` accepted (or withdrew from) the labelling obligation of ``service``; a change is a
    ``user.consent_changed`` audit record in the same transaction."""
    from generation.models import UserSettings

    stored = UserSettings.objects.select_for_update().filter(user=user).first()
    before = stored.labelling_obligation_version if stored is not None else ""
    version = service.labelling_obligation_version if accepted else ""
    UserSettings.objects.update_or_create(
        user=user,
        defaults={
            "labelling_obligation_version": version,
            "labelling_obligation_accepted_at": timezone.now() if accepted else None,
        },
    )
    if before != version:
        consent_change_record(
            user=user,
            request=request,
            consent="labelling_obligation",
            given=accepted,
            previous=bool(before),
            version=service.labelling_obligation_version,
        )


def consent_change_record(
    *, user: Any, request: Any, consent: str, given: bool, previous: bool | None, **more: Any
) -> None:
    """One ``user.consent_changed`` record: ``consent`` names what was given or withdrawn."""
    audit.user_event(
        event_type="user.consent_changed",
        actor=user,
        request=request,
        subject=user,
        payload={"consent": consent, "given": given, "previous": previous, **more},
    )


def output_unlabelled_allowed(*, user: Any, output: Output) -> str:
    """The labelling obligation version under which ``user`` may have ``output`` without its visible label.

    Raises UnlabelledRefused when the output has no such file or the user may not have it now.
    """
    record = output.job.checkpoint.model_record if output.job.checkpoint else None
    version = unlabelled_delivery_version(user=user, service=record.service if record else None)
    if version is None:
        raise UnlabelledRefused(
            _(
                "Content without the visible label is available only if the service offers it and you have "
                "accepted the labelling obligation in your account settings."
            )
        )
    if not output.file_unlabelled:
        raise UnlabelledRefused(
            _("This output was made before you accepted the labelling obligation, so it exists only with its label.")
        )
    return version


def produce_id_for(job: Job, index: int) -> str:
    """The ProduceID of output ``index`` of ``job``: stable across retries, unique, label-safe."""
    return uuid.uuid5(job.public_id, str(index)).hex


def producer_code_for(checkpoint: Checkpoint) -> str:
    """The ContentProducer code of outputs of ``checkpoint``: provider USCC, generation service, model code."""
    from generation.labels import producer_code_build

    record = checkpoint.model_record
    if record is None:
        raise RuntimeError("the checkpoint belongs to no model record, so its outputs cannot be labelled")
    return producer_code_build(uscc=record.service.provider.uscc, service_type="1", model_code=record.code)


def deliverable(item: Any, *, produce_id: str, producer: str, unlabelled: bool = False) -> Deliverable:
    """Turn one sample into the labelled file delivered to the user.

    Both labels are written and read back here (``label_*`` raise if the label does not read
    back), so a job whose output cannot be labelled fails instead of delivering it. With
    ``unlabelled`` a second file without the visible label (implicit label kept) is made too.
    """
    from generation.labels import label_image, label_text, text_body

    if isinstance(item, str):
        markdown = label_text(item, produce_id=produce_id, producer=producer)
        plain = label_text(item, produce_id=produce_id, producer=producer, explicit=False) if unlabelled else None
        return Deliverable(
            media=Output.Media.TEXT,
            content=markdown.encode(),
            text=text_body(markdown),
            extension="md",
            content_unlabelled=plain.encode() if plain is not None else None,
        )
    png = label_image(item, produce_id=produce_id, producer=producer)
    plain_png = label_image(item, produce_id=produce_id, producer=producer, explicit=False) if unlabelled else None
    return Deliverable(media=Output.Media.IMAGE, content=png, text="", extension="png", content_unlabelled=plain_png)


def outputs_remove(*, outputs: Any, reason: str, actor: Any, incident: Any = None, request: Any = None) -> int:
    """Remove outputs: their files are deleted, their pages and downloads say they were removed. Each removal
    is an audit event. Returns how many were removed now (already removed ones are left as they are)."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError(_("Give the reason the content is removed."))
    removed = 0
    for output in outputs:
        with transaction.atomic():
            locked = Output.objects.select_for_update().filter(pk=output.pk, removed_at__isnull=True).first()
            if locked is None:
                continue
            names = [name for name in (locked.file.name, locked.file_unlabelled.name) if name]
            locked.removed_at = timezone.now()
            locked.removed_reason = reason
            locked.removed_by = actor.get_username() if actor is not None else ""
            locked.incident = incident
            locked.file = ""
            locked.file_unlabelled = ""
            locked.text = ""
            locked.save()
            audit.incident_event(
                event_type="incident.content_removed",
                actor=actor,
                request=request,
                subject=locked,
                produce_id=locked.produce_id,
                payload={"reason": reason, "incident_id": incident.pk if incident is not None else None},
            )
            transaction.on_commit(functools.partial(_files_delete, names))
        removed += 1
    return removed


def _files_delete(names: list[str]) -> None:
    for name in names:
        default_storage.delete(name)

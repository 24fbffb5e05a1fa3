"""Retention: the purge of sealed, expired blocks (their seals stay, so the chain still verifies) and legal holds."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Max, Q
from django.utils import timezone

from audit import integrity
from audit.models import Content, LegalHold, LogEntry, PurgePermit, Seal
from audit.services.keys import public_keys, purge_signature_valid, signing_key
from audit.services.rollups import rollups_forget_before
from audit.services.writer import audit_event


class RetentionError(ValueError):
    """The retention setting is below the legal minimum."""


# Six calendar months are at most 184 days; below that the log would be kept too short.
RETENTION_MINIMUM_DAYS = 184


def _holds_q(prefix: str = "") -> Q:
    q = Q(pk__in=[])
    for hold in LegalHold.objects.filter(released_at__isnull=True):
        if hold.actor_id:
            q |= Q(**{f"{prefix}actor_id": hold.actor_id})
        if hold.subject_kind:
            q |= Q(**{f"{prefix}subject_kind": hold.subject_kind, f"{prefix}subject_id": hold.subject_id})
    return q


def retention_purge(*, now: datetime | None = None) -> dict[str, int]:
    """Delete expired content, and expired sealed blocks of records, except what a legal hold covers.

    A block is deleted whole, only when every record in it is older than the retention period and
    none is held; its seal stays, and a signed ``audit.purged`` record says which blocks went, so
    verification tells a purge from a deletion. Returns counts of what was deleted.
    """
    days = settings.AUDIT_RETENTION_DAYS
    if days < RETENTION_MINIMUM_DAYS:
        raise RetentionError(
            f"AUDIT_RETENTION_DAYS is {days}; the log must be kept at least six calendar months "
            f"({RETENTION_MINIMUM_DAYS} days)"
        )
    cutoff = (now or timezone.now()) - timedelta(days=days)
    holds = _holds_q()
    purged_blocks = set(_purged_blocks_signed())

    # Content: expired, not referenced by a recent or held record.
    kept_digests = LogEntry.objects.filter(Q(created_at__gte=cutoff) | holds)
    keep = set(kept_digests.exclude(input_sha256="").values_list("input_sha256", flat=True))
    keep |= set(kept_digests.exclude(output_sha256="").values_list("output_sha256", flat=True))
    expired = Content.objects.filter(created_at__lt=cutoff).exclude(digest__in=keep)
    content_deleted, _ = expired.delete()

    blocks: list[list[int]] = []
    records_deleted = 0
    for seal in Seal.objects.order_by("number").iterator():
        if seal.number in purged_blocks:
            continue
        in_block = LogEntry.objects.filter(seq__gte=seal.first_seq, seq__lte=seal.last_seq)
        newest = in_block.aggregate(newest=Max("created_at"))["newest"]
        if newest is None:
            continue
        if newest >= cutoff:
            continue
        if in_block.filter(holds).exists():
            continue
        with transaction.atomic():
            permit = PurgePermit.objects.create(first_seq=seal.first_seq, last_seq=seal.last_seq)
            records_deleted += in_block.delete()[0]
            permit.delete()
            block = [seal.number, seal.first_seq, seal.last_seq]
            cutoff_text = integrity.time_canonical(cutoff)
            signature = integrity.sign(signing_key(), integrity.purge_message(blocks=[block], cutoff=cutoff_text))
            audit_event(
                event_type="audit.purged",
                actor_username="system:retention",
                payload={"blocks": [block], "cutoff": cutoff_text, "signature": signature},
            )
        blocks.append(block)
    if blocks:
        rollups_forget_before(moment=cutoff)
    if content_deleted and not blocks:
        audit_event(
            event_type="audit.purged",
            actor_username="system:retention",
            payload={
                "blocks": [],
                "cutoff": integrity.time_canonical(cutoff),
                "signature": integrity.sign(
                    signing_key(), integrity.purge_message(blocks=[], cutoff=integrity.time_canonical(cutoff))
                ),
                "content_deleted": content_deleted,
            },
        )
    return {"content_deleted": content_deleted, "blocks_deleted": len(blocks), "records_deleted": records_deleted}


def _purged_blocks_signed() -> Iterable[int]:
    """Seal numbers of blocks deleted by a purge whose record carries a valid signature."""
    keys = public_keys()
    for text in LogEntry.objects.filter(event_type="audit.purged").values_list("payload", flat=True):
        payload = json.loads(text)
        if purge_signature_valid(payload, keys):
            yield from (int(block[0]) for block in payload["blocks"])


def legal_hold_set(
    *, reason: str, actor: Any = None, actor_id: str = "", subject_kind: str = "", subject_id: str = ""
) -> LegalHold:
    """Stop purging records (and their content) of an actor or of a subject until released."""
    if not actor_id and not (subject_kind and subject_id):
        raise ValueError("a legal hold names an actor id, or a subject kind and id")
    with transaction.atomic():
        hold = LegalHold(
            actor_id=actor_id,
            subject_kind=subject_kind,
            subject_id=subject_id,
            reason=reason,
            created_by=actor.get_username() if actor is not None else "system",
        )
        hold.full_clean()
        hold.save()
        audit_event(
            event_type="audit.legal_hold_set",
            actor=actor,
            actor_username=None if actor is not None else "system",
            subject=("audit.legalhold", hold.pk, str(hold)),
            payload={"hold_id": hold.pk, "reason": reason},
        )
    return hold


def legal_hold_release(*, hold: LegalHold, actor: Any = None) -> LegalHold:
    with transaction.atomic():
        hold.released_at = timezone.now()
        hold.save(update_fields=["released_at"])
        audit_event(
            event_type="audit.legal_hold_released",
            actor=actor,
            actor_username=None if actor is not None else "system",
            subject=("audit.legalhold", hold.pk, str(hold)),
            payload={"hold_id": hold.pk},
        )
    return hold

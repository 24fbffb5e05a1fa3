"""What may run: the policy gate of the public service, the account checks, moderation of a request, and the
one writer of a refusal before any job exists."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _

from audit import services as audit
from filing.selectors import service_public
from generation.checkpoints import checkpoint_serving
from generation.identity import verification_required, verification_required_by
from generation.minors import MinorMode, minor_mode, minor_mode_refusal, minor_refusal
from generation.models import Checkpoint, NetKind
from generation.params import limits
from generation.tunes import TUNE_SEPARATOR, Tune

# An argument the caller did not pass (None is a value: an adult has no minor mode).
_UNREAD = object()


class JobUnavailable(Exception):
    """The service cannot take this job now (no serving checkpoint, user suspended, over quota, queue full).

    ``retry_after``: seconds after which the same request may be taken, when the refusal knows (``busy``).
    """

    def __init__(self, message: str, *, code: str, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.retry_after = retry_after


def job_input(kind: str, params: dict[str, Any]) -> str:
    """What the user asked for, as kept (apart from the record, by digest) in the audit log."""
    if kind == NetKind.LM:
        if "tune" in params:
            return f"{params['tune']}{TUNE_SEPARATOR}{params.get('opening', '')}"
        return str(params.get("prompt", ""))
    return json.dumps(params, sort_keys=True)


def checkpoint_tunes(checkpoint: Checkpoint | None) -> list[Tune] | None:
    """The tunes a language-model checkpoint writes to (None when there is no checkpoint)."""
    if checkpoint is None:
        return None
    return [Tune.from_dict(values) for values in checkpoint.tunes]


def tunes_offered(checkpoint: Checkpoint | None = None) -> list[Tune] | None:
    """The tunes end users may choose: those of the serving text model whose pieces fit the length limit.

    None when no text model serves. ``checkpoint`` defaults to the one serving.
    """
    checkpoint = checkpoint if checkpoint is not None else checkpoint_serving(NetKind.LM)
    tunes = checkpoint_tunes(checkpoint)
    if checkpoint is None or tunes is None:
        return None
    cap = min(limits().max_text_chars, int(checkpoint.config.get("max_new_chars") or limits().max_text_chars))
    return [tune for tune in tunes if tune.characters <= cap]


def public_service_of(checkpoint: Checkpoint | None) -> Any:
    """The public service (None before an operator chose one), taken from ``checkpoint``'s model record when that
    belongs to it: ``checkpoint_serving`` reads the record and its service with the checkpoint, so the common case
    costs no query."""
    record = checkpoint.model_record if checkpoint is not None else None
    if record is not None and record.service.is_public:
        return record.service
    return service_public()


def policy_refusal(
    checkpoint: Checkpoint | None, user: Any = None, *, public: Any = None, tester: bool | None = None
) -> tuple[str, str] | None:
    """Why the service may not run a job on ``checkpoint`` for ``user`` now, as (message, code); None if it may.

    Only the public service generates, and only with checkpoints of its own approved model records that
    passed the quality gate: for everyone once it is filed, for its testers while in internal testing.
    Without ``user`` the tester list is not asked (what the service offers in general). ``public``: the public
    service, when the caller has it (``public_service_of``); ``tester``: whether ``user`` is on its tester list,
    when the caller read it.
    """
    public = public if public is not None else public_service_of(checkpoint)
    if public is None or not public.may_serve:
        return (_("This service is not open yet."), "service_not_open")
    if public.generation_stopped_at is not None:
        return (_("Generation is paused at the moment. Please try again later."), "stopped")
    # A service that may serve and is not open is in internal testing: its testers are whom it serves.
    serves = public.serves(user) if tester is None else public.open_to_public or tester
    if user is not None and not serves:
        return (
            _("This service is not open to the public yet: while it is being tested, only invited testers may use it."),
            "not_a_tester",
        )
    if checkpoint is None:
        return (
            _("This generator is not available yet: no net that passed the quality checks serves it."),
            "net_not_ready",
        )
    if not checkpoint.may_serve:
        return (
            _("This generator is not available: its net has not passed the quality checks."),
            "net_not_ready",
        )
    record = checkpoint.model_record
    if record is None or record.service_id != public.pk:
        return (
            _("This generator is not available: its net is not one of this service's filed models."),
            "net_not_ready",
        )
    if record.approval != record.Approval.APPROVED:
        return (
            _("This generator is not available: its model has not been approved for service yet."),
            "model_not_approved",
        )
    if record.generation_stopped_at is not None:
        return (_("This generator is paused at the moment. Please try again later."), "stopped")
    return None


def account_refusal(
    user: Any, *, public: Any = None, verified: bool | None = None, mode: MinorMode | None | object = _UNREAD
) -> tuple[str, str] | None:
    """Why ``user``'s own account may not generate now (real-name verification, minor mode); None if it may.

    A caller that has read the account's facts passes them: the public service, whether a number is ``verified``
    and the minor ``mode``; what it does not pass is read here."""
    required = verification_required(user) if verified is None else verification_required_by(public, verified=verified)
    if required:
        return (
            _("Verify your mobile number on the account page before you generate (real-name verification)."),
            "phone_not_verified",
        )
    if mode is _UNREAD:
        return minor_refusal(user)
    return minor_mode_refusal(mode)  # type: ignore[arg-type]


def moderate(text: str, *, output: bool, user: Any = None, minor: bool | None = None) -> Any:
    """The moderation verdict on ``text``; for a user in minor mode, what the library only flags is refused.
    ``minor``: whether ``user`` is in minor mode, when the caller knows (otherwise it is read if it matters)."""
    from generation import moderation

    try:
        verdict = moderation.moderate_output(text) if output else moderation.moderate_input(text)
        if verdict.flagged and user is not None and settings.MINOR_BLOCK_FLAGGED and _minor(user, minor):
            verdict = dataclasses.replace(verdict, decision=moderation.Decision.BLOCK)
        return verdict
    except moderation.ModerationUnavailable as exc:
        # Fail closed: no moderation, no generation.
        raise JobUnavailable(
            _("Content checks are unavailable at the moment, so nothing can be generated. Please try again later."),
            code="moderation_unavailable",
        ) from exc


def _minor(user: Any, known: bool | None) -> bool:
    return minor_mode(user) is not None if known is None else known


def serving_facts(checkpoint: Checkpoint | None) -> dict[str, str]:
    """The service filing number, model record and checkpoint in force, for audit records."""
    if checkpoint is None:
        return {}
    record = checkpoint.model_record
    return {
        "checkpoint_sha256": checkpoint.sha256,
        "model_record": str(record) if record else "",
        "filing_number": record.service.filing_number if record else "",
    }


def refusal_record(
    *, user: Any, request: Any, kind: str, params: dict[str, Any] | None, reason: str, code: str
) -> None:
    """The one writer of a request's policy refusal before any job exists (``params`` None: the input was not
    read). ``code`` says why (``net_not_ready``, ``over_quota``, ...), so that figures can tell a generator
    that could not serve from content refused."""
    with transaction.atomic():
        audit.generation_event(
            event_type="generation.refused",
            actor=user,
            request=request,
            decision="refused",
            input_content=job_input(kind, params) if params is not None else None,
            payload={"kind": kind, "reason": reason, "stage": "policy", "reason_code": code},
        )


def job_refuse_unavailable(*, user: Any, kind: str, request: Any = None) -> str | None:
    """Record the refusal of a request for a kind that cannot serve now (the form could not even be filled,
    e.g. no text model offers tunes); returns the reason, or None when the kind is available after all."""
    refusal = policy_refusal(checkpoint_serving(kind), user)
    if refusal is None:
        return None
    refusal_record(user=user, request=request, kind=kind, params={}, reason=refusal[0], code=refusal[1])
    return refusal[0]

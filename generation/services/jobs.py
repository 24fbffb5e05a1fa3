"""Submitting a job: idempotency, the gate, input moderation, the daily quota under the user's row lock, and
the row that is the job's source of truth, queued once the transaction commits."""

from __future__ import annotations

import logging
import math
import time
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from kombu.exceptions import OperationalError as KombuOperationalError

from audit import services as audit
from genai_platform.outages import BROKER
from genai_platform.services import broker_check
from generation.checkpoints import checkpoint_serving
from generation.enforcement import enforcement_apply, suspension_active
from generation.models import Checkpoint, Job, NetKind
from generation.params import params_clean
from generation.services.gate import (
    JobUnavailable,
    account_refusal,
    job_input,
    moderate,
    policy_refusal,
    refusal_record,
    serving_facts,
    tunes_offered,
)
from generation.terms import terms_pending
from generation.usage import quota_refusal, usage_job_counted, usage_job_given_back

logger = logging.getLogger(__name__)


def job_enqueue(job: Job) -> None:
    """Send the job to the workers. Runs after the row is committed, so a broker that fails now loses
    nothing: the job stays queued and the sweeper sends it again (``JOB_RESEND_SECONDS``)."""
    from generation.tasks import job_run_task

    try:
        job_run_task.apply_async(kwargs={"job_id": job.pk})
    except (KombuOperationalError, OSError) as exc:
        BROKER.failed(exc, "jobs stay queued in the database and the sweeper sends them again")
        logger.warning("job %s stored but not sent to the broker; the sweeper will send it", job.public_id)
    else:
        BROKER.answered()


_broker_seen_at = -math.inf  # when this process last found the broker reachable (time.monotonic())


def broker_refusal() -> str | None:
    """Why no job can be taken now because the broker is unreachable, or None. Asked before anything
    is stored, so that a refused submission leaves no row and can simply be sent again.

    A reachable broker is trusted for ``BROKER_CHECK_SECONDS`` (a check opens a connection); a broker
    lost in that time fails the send after the commit instead, which loses nothing (``job_enqueue``).
    """
    global _broker_seen_at
    if time.monotonic() - _broker_seen_at < settings.BROKER_CHECK_SECONDS:
        return None
    check = broker_check()
    if check.ok:
        _broker_seen_at = time.monotonic()
        BROKER.answered()
        return None
    BROKER.failed(RuntimeError(check.detail), "job submissions are refused with 503")
    return _("Generation is temporarily unavailable because the job queue cannot be reached. Please try again later.")


@transaction.atomic(durable=True)
def _job_refused_by_moderation(
    *,
    user: Any,
    request: Any,
    kind: str,
    params: dict[str, Any],
    seed: int,
    checkpoint: Checkpoint,
    verdict: Any,
    idempotency_key: str | None,
) -> Job:
    from generation.moderation import refusal_message

    outcome = enforcement_apply(user=user)
    reason = " ".join(part for part in (refusal_message(verdict), outcome.sentence()) if part)
    job = Job.objects.create(
        user=user,
        kind=kind,
        params=params,
        seed=seed,
        checkpoint=checkpoint,
        status=Job.Status.REFUSED,
        reason=reason,
        risk_codes=list(verdict.risk_codes),
        moderation={"input": verdict.as_dict()},
        idempotency_key=idempotency_key or None,
        finished_at=timezone.now(),
    )
    audit.generation_event(
        event_type="generation.refused",
        actor=user,
        request=request,
        subject=job,
        **serving_facts(checkpoint),
        keyword_library_version=str(verdict.library_version),
        decision="refused",
        risk_codes=list(verdict.risk_codes),
        input_content=job_input(kind, params),
        payload={"job_id": str(job.public_id), "kind": kind, "reason": reason, "stage": "input_moderation"},
    )
    return job


def job_submit(
    *,
    user: Any,
    kind: str,
    params: dict[str, Any],
    idempotency_key: str | None = None,
    request: Any = None,
) -> Job:
    """Validate and store a generation job, and enqueue it once the transaction commits.

    Raises ValidationError for bad parameters and JobUnavailable when the service cannot take the
    job (the refusal is an audit event; ``code="over_quota"`` past the daily quota;
    ``code="broker_unavailable"``, with nothing stored, while the broker cannot be reached). With an
    ``idempotency_key`` a repeated call returns the job the first call created, even at the limit.

    The quota is checked first without a lock, so that a spent quota is refused before any moderation
    work, and again in the transaction that stores the job, with the user's row locked, so that two
    requests racing for the last unit cannot both pass.
    """
    if idempotency_key:
        existing = Job.objects.filter(user=user, idempotency_key=idempotency_key).first()
        if existing:
            return existing
    unreachable = broker_refusal()
    if unreachable:
        raise JobUnavailable(unreachable, code="broker_unavailable")
    spent = quota_refusal(user=user)
    if spent:
        refusal_record(user=user, request=request, kind=kind, params=None, reason=spent, stage="policy")
        raise JobUnavailable(spent, code="over_quota")
    if kind not in NetKind.values:
        raise ValidationError({"kind": _("Unknown kind of generation: choose gan, vae or lm.")})
    checkpoint = checkpoint_serving(kind)
    cleaned, seed = params_clean(kind, params, tunes=tunes_offered(checkpoint) if kind == NetKind.LM else None)
    refusal = policy_refusal(checkpoint, user)
    if refusal:
        reason, code = refusal
        refusal_record(user=user, request=request, kind=kind, params=cleaned, reason=reason, stage="policy")
        raise JobUnavailable(reason, code=code)
    assert checkpoint is not None
    pending = terms_pending(user)
    if pending:
        reason = _(
            "The terms have changed (%(documents)s): read them and accept them on the terms page before you "
            "generate again."
        ) % {"documents": ", ".join(f"{v.title} {v.version}" for v in pending)}
        refusal_record(user=user, request=request, kind=kind, params=cleaned, reason=reason, stage="policy")
        raise JobUnavailable(reason, code="terms_not_accepted")
    if suspension_active(user):
        reason = _(
            "Your account may not generate content at the moment because several of your requests broke the "
            "content rules. If you think this is a mistake, contact us through the complaints page."
        )
        refusal_record(user=user, request=request, kind=kind, params=cleaned, reason=reason, stage="policy")
        raise JobUnavailable(reason, code="user_suspended")
    account = account_refusal(user)
    if account:
        reason, code = account
        refusal_record(user=user, request=request, kind=kind, params=cleaned, reason=reason, stage="policy")
        raise JobUnavailable(reason, code=code)
    verdict = None
    if kind == NetKind.LM and cleaned["opening"]:
        verdict = moderate(cleaned["opening"], output=False, user=user)
        if verdict.blocked:
            return _job_refused_by_moderation(
                user=user,
                request=request,
                kind=kind,
                params=cleaned,
                seed=seed,
                checkpoint=checkpoint,
                verdict=verdict,
                idempotency_key=idempotency_key,
            )
    try:
        return _job_create(
            user=user,
            kind=kind,
            params=cleaned,
            seed=seed,
            checkpoint=checkpoint,
            idempotency_key=idempotency_key,
            request=request,
            input_verdict=verdict,
        )
    except JobUnavailable as exc:
        if exc.code == "over_quota":  # lost the race for the last unit of quota; nothing was stored
            refusal_record(user=user, request=request, kind=kind, params=None, reason=exc.message, stage="policy")
        raise


@transaction.atomic(durable=True)
def _job_create(
    *,
    user: Any,
    kind: str,
    params: dict[str, Any],
    seed: int,
    checkpoint: Checkpoint,
    idempotency_key: str | None,
    request: Any,
    input_verdict: Any = None,
) -> Job:
    # Held until this transaction ends (SQLite's IMMEDIATE transactions hold the write lock from the start).
    get_user_model().objects.select_for_update().only("pk").get(pk=user.pk)
    spent = quota_refusal(user=user)
    if spent:
        raise JobUnavailable(spent, code="over_quota")
    job = Job(
        user=user,
        kind=kind,
        params=params,
        seed=seed,
        checkpoint=checkpoint,
        idempotency_key=idempotency_key or None,
        risk_codes=list(input_verdict.risk_codes) if input_verdict else [],
        moderation={"input": input_verdict.as_dict()} if input_verdict else {},
        enqueued_at=timezone.now(),
    )
    try:
        with transaction.atomic():
            job.save()
    except IntegrityError:
        # Two requests with the same key raced; the other one won.
        return Job.objects.get(user=user, idempotency_key=idempotency_key)
    usage_job_counted(job=job)
    audit.generation_event(
        event_type="generation.requested",
        actor=user,
        request=request,
        subject=job,
        **serving_facts(checkpoint),
        keyword_library_version=str(input_verdict.library_version) if input_verdict else None,
        risk_codes=list(input_verdict.risk_codes) if input_verdict else None,
        decision="allowed",
        input_content=job_input(kind, params),
        payload={"job_id": str(job.public_id), "kind": kind, "params": params | {"seed": seed}},
    )
    transaction.on_commit(lambda: job_enqueue(job))
    return job


@transaction.atomic
def job_cancel(*, job: Job) -> bool:
    """Cancel a job that no worker has started; returns False if it is past that point."""
    updated = Job.objects.filter(pk=job.pk, status=Job.Status.QUEUED).update(
        status=Job.Status.CANCELLED, finished_at=timezone.now(), reason=_("Cancelled by the user.")
    )
    job.refresh_from_db()
    if updated:
        usage_job_given_back(job=job)
    return bool(updated)

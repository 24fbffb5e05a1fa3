"""Submitting a job: idempotency, the gate, input moderation, the daily quota under the user's row lock, the
queue's depth limit, and the row that is the job's source of truth, queued once the transaction commits."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import math
import time
from datetime import timedelta
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
from generation.enforcement import enforcement_apply
from generation.models import GENERATOR_KINDS, Checkpoint, Job, NetKind
from generation.params import params_clean
from generation.queueing import job_queue, queue_depth_limit, queue_refusal
from generation.services.admission import SubmitterFacts, submission_facts
from generation.services.gate import (
    JobUnavailable,
    account_refusal,
    job_input,
    moderate,
    policy_refusal,
    public_service_of,
    refusal_record,
    serving_facts,
    tunes_offered,
)
from generation.terms import terms_pending
from generation.usage import quota_state, quota_state_refusal, usage_job_given_back, usage_job_taken

logger = logging.getLogger(__name__)


class IdempotencyKeyReused(Exception):
    """An idempotency key came again with a different request than the one it was first sent with."""

    code = "idempotency_key_reused"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def request_hash(kind: str, params: dict[str, Any]) -> str:
    """SHA-256 of a job request in canonical JSON (sorted keys, no spaces, ASCII escapes), stored with the job."""
    canonical = json.dumps({"kind": kind, "params": params}, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _job_replayed(*, user: Any, idempotency_key: str | None, digest: str) -> Job | None:
    """The job an earlier request with this idempotency key made, marked ``replayed``; None for a new key.

    Run under the user's row lock when the facts found a job with the key, and after an IntegrityError. A key
    older than ``GENERATION_IDEMPOTENCY_KEY_HOURS`` has expired: it is released from its job, and the request
    makes a new one. Raises IdempotencyKeyReused when the key's job was made from a different request.
    """
    if not idempotency_key:
        return None
    job = Job.objects.filter(user=user, idempotency_key=idempotency_key).first()
    if job is None:
        return None
    if job.created_at < timezone.now() - timedelta(hours=settings.GENERATION_IDEMPOTENCY_KEY_HOURS):
        Job.objects.filter(pk=job.pk, idempotency_key=idempotency_key).update(idempotency_key=None)
        return None
    if job.request_hash and job.request_hash != digest:
        raise IdempotencyKeyReused(
            _(
                "This idempotency key was already used for a different request. Send the same request to get "
                "its job again, or use a new key for a new request."
            )
        )
    job.replayed = True
    return job


def _user_locked(user: Any) -> None:
    """Lock the user's row until the transaction ends: one user's refused inputs are counted one at a time.
    (SQLite's IMMEDIATE transactions hold the write lock from the start.)"""
    get_user_model().objects.select_for_update().only("pk").get(pk=user.pk)


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


def _job_refused_by_moderation(job: Job, *, verdict: Any, request: Any) -> Job:
    """Store ``job`` refused, for the input ``verdict`` that blocked it, with its audit record; the refusal
    counts towards a suspension. Runs in ``job_submit``'s transaction."""
    from generation.moderation import refusal_message, verdict_audit_facts

    outcome = enforcement_apply(user=job.user)
    job.status = Job.Status.REFUSED
    job.reason = " ".join(part for part in (refusal_message(verdict), outcome.sentence()) if part)
    job.finished_at = timezone.now()
    job.save(force_insert=True)
    audit.generation_event(
        event_type="generation.refused",
        actor=job.user,
        request=request,
        subject=job,
        **serving_facts(job.checkpoint),
        keyword_library_version=str(verdict.library_version),
        decision="refused",
        risk_codes=list(verdict.risk_codes),
        input_content=job_input(job.kind, job.params),
        payload={
            "job_id": str(job.public_id),
            "kind": job.kind,
            "reason": job.reason,
            "stage": "input_moderation",
            "reason_code": "content",
            **verdict_audit_facts(verdict),
        },
    )
    return job


class _Refused(Exception):  # noqa: N818 (the name says what happened)
    """A submission refused under the user's row lock; ``job_submit`` records it once the transaction has rolled
    back (``params`` None: the input was not read)."""

    def __init__(self, message: str, *, code: str, params: dict[str, Any] | None, retry_after: int | None = None):
        super().__init__(message)
        self.message = message
        self.code = code
        self.params = params
        self.retry_after = retry_after


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
    ``code="broker_unavailable"``, with nothing stored, while the broker cannot be reached; ``code="busy"``, with
    ``retry_after``, while the job queue holds as many waiting jobs as its depth limit).

    With an ``idempotency_key`` (the IETF Idempotency-Key draft), a repeated call with the same kind and
    parameters returns the job the first call stored, even at the limit, with ``job.replayed`` set; the
    same key with a different request raises IdempotencyKeyReused. Of calls racing with one key, the first to
    store its job wins on the key's unique constraint; the others roll back and return that job. A key expires
    ``GENERATION_IDEMPOTENCY_KEY_HOURS`` after its job was made; then it makes a new job.

    Everything is decided in one transaction from one read of the serving checkpoint and the user's facts
    (``submission_facts``), in the order of the checks below, so that a spent quota is refused before any
    moderation work. The statement that counts the job decides the quota again, so two requests racing for the
    last unit cannot both pass. The queue's depth is counted in the read: a refused job leaves no row, no quota
    used and no ``generation.requested`` record, only its ``generation.refused`` one. An accepted job costs five
    statements besides BEGIN and COMMIT: the read, the job, the day's count and the audit record's two.
    """
    digest = request_hash(kind, params)
    try:
        with transaction.atomic(durable=True):
            return _job_admit(
                user=user, kind=kind, params=params, idempotency_key=idempotency_key, digest=digest, request=request
            )
    except _Refused as refused:
        # Refused in the transaction, which stored nothing: the refusal is recorded now that it has rolled back.
        refusal_record(
            user=user, request=request, kind=kind, params=refused.params, reason=refused.message, code=refused.code
        )
        raise JobUnavailable(refused.message, code=refused.code, retry_after=refused.retry_after) from None
    except IntegrityError:
        # Only a writer that bypasses the user's row lock can store the key's job first; its job is the answer.
        replayed = _job_replayed(user=user, idempotency_key=idempotency_key, digest=digest)
        if replayed is None:
            raise
        return replayed


def _job_admit(
    *, user: Any, kind: str, params: dict[str, Any], idempotency_key: str | None, digest: str, request: Any
) -> Job:
    """``job_submit``'s transaction: the checks in their order, then the job stored. Raises _Refused."""
    checkpoint, facts = submission_facts(
        user, kind=kind, idempotency_key=idempotency_key, count_queue=bool(queue_depth_limit(job_queue()))
    )
    if facts.key_job is not None:
        replayed = _job_replayed(user=user, idempotency_key=idempotency_key, digest=digest)
        if replayed:
            return replayed
    unreachable = broker_refusal()
    if unreachable:
        raise JobUnavailable(unreachable, code="broker_unavailable")
    mode = facts.minor_mode()
    spent = quota_state_refusal(facts.quota())
    if spent:
        raise _Refused(spent, code="over_quota", params=None)
    if kind not in GENERATOR_KINDS:
        raise ValidationError({"kind": _("Unknown kind of generation: choose gan, vae or lm.")})
    cleaned, seed = params_clean(kind, params, tunes=tunes_offered(checkpoint) if kind == NetKind.LM else None)
    public = public_service_of(checkpoint)
    refusal = policy_refusal(checkpoint, user, public=public, tester=facts.tester)
    if refusal:
        raise _Refused(refusal[0], code=refusal[1], params=cleaned)
    assert checkpoint is not None
    if facts.terms_pending:
        reason = _(
            "The terms have changed (%(documents)s): read them and accept them on the terms page before you "
            "generate again."
        ) % {"documents": ", ".join(f"{v.title} {v.version}" for v in terms_pending(user))}
        raise _Refused(reason, code="terms_not_accepted", params=cleaned)
    if facts.suspended:
        reason = _(
            "Your account may not generate content at the moment because several of your requests broke the "
            "content rules. If you think this is a mistake, contact us through the complaints page."
        )
        raise _Refused(reason, code="user_suspended", params=cleaned)
    account = account_refusal(user, public=public, verified=facts.phone_verified, mode=mode)
    if account:
        raise _Refused(account[0], code=account[1], params=cleaned)
    verdict = None
    if kind == NetKind.LM and cleaned["opening"]:
        verdict = moderate(cleaned["opening"], output=False, user=user, minor=mode is not None)
    return _job_store(
        user=user,
        kind=kind,
        params=cleaned,
        seed=seed,
        checkpoint=checkpoint,
        idempotency_key=idempotency_key,
        digest=digest,
        request=request,
        input_verdict=verdict,
        facts=facts,
    )


@transaction.atomic(savepoint=False)
def _job_store(
    *,
    user: Any,
    kind: str,
    params: dict[str, Any],
    seed: int,
    checkpoint: Checkpoint,
    idempotency_key: str | None,
    digest: str,
    request: Any,
    input_verdict: Any = None,
    facts: SubmitterFacts | None = None,
) -> Job:
    """Store the job of a cleaned and admitted request: refused when ``input_verdict`` blocked its input, otherwise
    queued within the queue's depth limit (as ``facts`` counted it), and sent to the workers once the transaction
    commits. ``facts`` (read under the user's row lock) spare the statements that would read them again."""
    job = Job(
        user=user,
        kind=kind,
        params=params,
        seed=seed,
        checkpoint=checkpoint,
        idempotency_key=idempotency_key or None,
        request_hash=digest,
        risk_codes=list(input_verdict.risk_codes) if input_verdict else [],
        moderation={"input": input_verdict.as_dict()} if input_verdict else {},
    )
    if input_verdict is not None and input_verdict.blocked:
        # Refusals count towards a suspension: a user's refused inputs are counted one at a time.
        _user_locked(user)
        return _job_refused_by_moderation(job, verdict=input_verdict, request=request)
    busy = queue_refusal(waiting=facts.queued if facts is not None else None)
    if busy:
        reason, retry_after = busy
        raise _Refused(reason, code="busy", params=params, retry_after=retry_after)
    job.enqueued_at = timezone.now()
    job.save(force_insert=True)
    # The quota is decided here, by the statement that counts the job: the facts may be a moment old.
    quota = facts.quota() if facts is not None else quota_state(user=user)
    if not usage_job_taken(job=job, limit=quota.limit, in_a_row=facts.in_a_row if facts is not None else None):
        spent = quota_state_refusal(dataclasses.replace(quota, used=quota.limit)) or ""
        raise _Refused(spent, code="over_quota", params=None)  # lost the race for the last unit
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

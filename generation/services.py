"""Generation services: submitting and running jobs, the sweeper, and checkpoint bookkeeping.

The job protocol (ARCHITECTURE.md, "A generation request, end to end"):

1. ``job_submit`` validates, applies the policy gate and input moderation, and stores the job as
   ``queued`` (or ``refused``); the task is enqueued only after the transaction commits.
2. ``job_run`` (worker) claims the row ``queued → running`` under a row lock. A second delivery
   of the same message finds the job no longer queued and returns: the claim makes the task
   idempotent, so tasks use ``acks_late``.
3. Sampling, output moderation and labelling happen outside any transaction; the outputs and the
   ``succeeded`` status are then written in one transaction, and only if this worker's claim is
   still the current one. Outputs are unique per (job, index), so nothing is written twice.
4. The sweeper (``jobs_sweep``) gives back to the queue a job whose worker died while running it
   and sends again a job whose message was lost, up to ``JOB_MAX_ATTEMPTS``.

Torch is imported only inside the functions that run in workers.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from audit import services as audit
from filing.selectors import service_public
from generation.checkpoints import checkpoint_serving
from generation.enforcement import enforcement_apply, suspension_active
from generation.identity import verification_required
from generation.minors import minor_mode, minor_refusal
from generation.models import Checkpoint, Job, NetKind, Output
from generation.params import limits, output_count, params_clean
from generation.terms import terms_pending
from generation.tunes import TUNE_SEPARATOR, Tune, piece_text
from generation.usage import quota_refusal, usage_job_counted, usage_job_given_back

if TYPE_CHECKING:
    from generation.ml.checkpoints import LoadedNet

logger = logging.getLogger(__name__)


class JobUnavailable(Exception):
    """The service cannot take this job now (no serving checkpoint, user suspended, over quota)."""

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


# ------------------------------------------------------------------------------
# Submitting
# ------------------------------------------------------------------------------
def _enqueue(job: Job) -> None:
    from generation.tasks import job_run_task

    job_run_task.apply_async(kwargs={"job_id": job.pk})


def _job_input(kind: str, params: dict[str, Any]) -> str:
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


def policy_refusal(checkpoint: Checkpoint | None, user: Any = None) -> tuple[str, str] | None:
    """Why the service may not run a job on ``checkpoint`` for ``user`` now, as (message, code); None if it may.

    Only the public service generates, and only with checkpoints of its own approved model records that
    passed the quality gate: for everyone once it is filed, for its testers while in internal testing.
    Without ``user`` the tester list is not asked (what the service offers in general).
    """
    public = service_public()
    if public is None or not public.may_serve:
        return (_("This service is not open yet."), "service_not_open")
    if public.generation_stopped_at is not None:
        return (_("Generation is paused at the moment. Please try again later."), "stopped")
    if user is not None and not public.serves(user):
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


def account_refusal(user: Any) -> tuple[str, str] | None:
    """Why ``user``'s own account may not generate now (real-name verification, minor mode); None if it may."""
    if verification_required(user):
        return (
            _("Verify your mobile number on the account page before you generate (real-name verification)."),
            "phone_not_verified",
        )
    return minor_refusal(user)


def _moderate(text: str, *, output: bool, user: Any = None) -> Any:
    """The moderation verdict on ``text``; for a user in minor mode, what the library only flags is refused."""
    from generation import moderation

    try:
        verdict = moderation.moderate_output(text) if output else moderation.moderate_input(text)
        if verdict.flagged and user is not None and settings.MINOR_BLOCK_FLAGGED and minor_mode(user) is not None:
            verdict = dataclasses.replace(verdict, decision=moderation.Decision.BLOCK)
        return verdict
    except moderation.ModerationUnavailable as exc:
        # Fail closed: no moderation, no generation.
        raise JobUnavailable(
            _("Content checks are unavailable at the moment, so nothing can be generated. Please try again later."),
            code="moderation_unavailable",
        ) from exc


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
        **_serving_facts(checkpoint),
        keyword_library_version=str(verdict.library_version),
        decision="refused",
        risk_codes=list(verdict.risk_codes),
        input_content=_job_input(kind, params),
        payload={"job_id": str(job.public_id), "kind": kind, "reason": reason, "stage": "input_moderation"},
    )
    return job


def _serving_facts(checkpoint: Checkpoint | None) -> dict[str, str]:
    """The service filing number, model record and checkpoint in force, for audit records."""
    if checkpoint is None:
        return {}
    record = checkpoint.model_record
    return {
        "checkpoint_sha256": checkpoint.sha256,
        "model_record": str(record) if record else "",
        "filing_number": record.service.filing_number if record else "",
    }


def _refuse(*, user: Any, request: Any, kind: str, params: dict[str, Any] | None, reason: str, stage: str) -> None:
    """The one writer of a request's refusal before any job exists (``params`` None: the input was not read)."""
    with transaction.atomic():
        audit.generation_event(
            event_type="generation.refused",
            actor=user,
            request=request,
            decision="refused",
            input_content=_job_input(kind, params) if params is not None else None,
            payload={"kind": kind, "reason": reason, "stage": stage},
        )


def job_refuse_unavailable(*, user: Any, kind: str, request: Any = None) -> str | None:
    """Record the refusal of a request for a kind that cannot serve now (the form could not even be filled,
    e.g. no text model offers tunes); returns the reason, or None when the kind is available after all."""
    refusal = policy_refusal(checkpoint_serving(kind), user)
    if refusal is None:
        return None
    _refuse(user=user, request=request, kind=kind, params={}, reason=refusal[0], stage="policy")
    return refusal[0]


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
    job (the refusal is an audit event; ``code="over_quota"`` past the daily quota). With an
    ``idempotency_key`` a repeated call returns the job the first call created, even at the limit.

    The quota is checked first without a lock, so that a spent quota is refused before any moderation
    work, and again in the transaction that stores the job, with the user's row locked, so that two
    requests racing for the last unit cannot both pass.
    """
    if idempotency_key:
        existing = Job.objects.filter(user=user, idempotency_key=idempotency_key).first()
        if existing:
            return existing
    spent = quota_refusal(user=user)
    if spent:
        _refuse(user=user, request=request, kind=kind, params=None, reason=spent, stage="policy")
        raise JobUnavailable(spent, code="over_quota")
    if kind not in NetKind.values:
        raise ValidationError({"kind": _("Unknown kind of generation: choose gan, vae or lm.")})
    checkpoint = checkpoint_serving(kind)
    cleaned, seed = params_clean(kind, params, tunes=tunes_offered(checkpoint) if kind == NetKind.LM else None)
    refusal = policy_refusal(checkpoint, user)
    if refusal:
        reason, code = refusal
        _refuse(user=user, request=request, kind=kind, params=cleaned, reason=reason, stage="policy")
        raise JobUnavailable(reason, code=code)
    assert checkpoint is not None
    pending = terms_pending(user)
    if pending:
        reason = _(
            "The terms have changed (%(documents)s): read them and accept them on the terms page before you "
            "generate again."
        ) % {"documents": ", ".join(f"{v.title} {v.version}" for v in pending)}
        _refuse(user=user, request=request, kind=kind, params=cleaned, reason=reason, stage="policy")
        raise JobUnavailable(reason, code="terms_not_accepted")
    if suspension_active(user):
        reason = _(
            "Your account may not generate content at the moment because several of your requests broke the "
            "content rules. If you think this is a mistake, contact us through the complaints page."
        )
        _refuse(user=user, request=request, kind=kind, params=cleaned, reason=reason, stage="policy")
        raise JobUnavailable(reason, code="user_suspended")
    account = account_refusal(user)
    if account:
        reason, code = account
        _refuse(user=user, request=request, kind=kind, params=cleaned, reason=reason, stage="policy")
        raise JobUnavailable(reason, code=code)
    verdict = None
    if kind == NetKind.LM and cleaned["opening"]:
        verdict = _moderate(cleaned["opening"], output=False, user=user)
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
            _refuse(user=user, request=request, kind=kind, params=None, reason=exc.message, stage="policy")
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
        **_serving_facts(checkpoint),
        keyword_library_version=str(input_verdict.library_version) if input_verdict else None,
        risk_codes=list(input_verdict.risk_codes) if input_verdict else None,
        decision="allowed",
        input_content=_job_input(kind, params),
        payload={"job_id": str(job.public_id), "kind": kind, "params": params | {"seed": seed}},
    )
    transaction.on_commit(lambda: _enqueue(job))
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


# ------------------------------------------------------------------------------
# Running (worker side)
# ------------------------------------------------------------------------------
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
def labelling_obligation_set(*, user: Any, service: Any, accepted: bool) -> None:
    """Record that ``user`` accepted (or withdrew from) the labelling obligation of ``service``."""
    from generation.models import UserSettings

    UserSettings.objects.update_or_create(
        user=user,
        defaults={
            "labelling_obligation_version": service.labelling_obligation_version if accepted else "",
            "labelling_obligation_accepted_at": timezone.now() if accepted else None,
        },
    )


def output_unlabelled_open(*, user: Any, output: Output) -> tuple[Any, str]:
    """Open the stored file of ``output`` without its visible label, with the obligation version in force.

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
    return output.file_unlabelled.open("rb"), version


def _claim(job_id: int, worker: str) -> Job | None:
    with transaction.atomic():
        job = (
            Job.objects.select_for_update(of=("self",))
            .select_related("checkpoint__model_record__service__provider", "user")
            .filter(pk=job_id)
            .first()
        )
        if job is None or job.status != Job.Status.QUEUED:
            return None
        job.status = Job.Status.RUNNING
        job.attempts += 1
        job.worker = worker
        job.started_at = timezone.now()
        job.save(update_fields=["status", "attempts", "worker", "started_at"])
        return job


def _latency_ms(job: Job) -> float:
    return round((timezone.now() - job.created_at).total_seconds() * 1000, 1)


@transaction.atomic
def _fail(job: Job, reason: str) -> None:
    updated = Job.objects.filter(pk=job.pk, status=Job.Status.RUNNING, attempts=job.attempts).update(
        status=Job.Status.FAILED, reason=reason, finished_at=timezone.now()
    )
    if updated:
        usage_job_given_back(job=job)
        audit.generation_event(
            event_type="generation.failed",
            actor=job.user,
            subject=job,
            **_serving_facts(job.checkpoint),
            payload={"job_id": str(job.public_id), "kind": job.kind, "reason": reason, "latency_ms": _latency_ms(job)},
        )


_NET_CACHE: dict[str, LoadedNet] = {}
_NET_CACHE_SIZE = 6


def net_load(checkpoint: Checkpoint) -> LoadedNet:
    """The net of ``checkpoint``, loaded once per worker process and verified against its SHA-256."""
    from generation.ml.checkpoints import checkpoint_loads

    loaded = _NET_CACHE.get(checkpoint.sha256)
    if loaded is None:
        with checkpoint.file.open("rb") as f:
            data = f.read()
        loaded = checkpoint_loads(data, expected_sha256=checkpoint.sha256)
        if len(_NET_CACHE) >= _NET_CACHE_SIZE:
            _NET_CACHE.pop(next(iter(_NET_CACHE)))
        _NET_CACHE[checkpoint.sha256] = loaded
    return loaded


def _sample(job: Job, net: Any) -> list[Any]:
    """Run the net: a list of uint8 arrays (images) or of strings (text)."""
    from generation.ml import sampling

    p = job.params
    if job.kind == NetKind.GAN:
        return sampling.gan_sample(net, digit=p["digit"], count=p["count"], seed=job.seed)
    if job.kind == NetKind.VAE:
        if "interpolate_to_seed" in p:
            return sampling.vae_interpolate(net, seed_a=job.seed, seed_b=p["interpolate_to_seed"], steps=p["steps"])
        return sampling.vae_sample(net, count=p["count"], seed=job.seed)
    if "tune" not in p:  # a job queued before text jobs named a tune
        return [
            sampling.lm_sample(
                net,
                prompt=p["prompt"],
                max_chars=p["length"],
                temperature=p["temperature"],
                top_k=p["top_k"],
                seed=job.seed,
            )
        ]
    tune = next((t for t in checkpoint_tunes(job.checkpoint) or [] if t.name == p["tune"]), None)
    if tune is None:
        raise ValueError(f"the serving text model does not know the tune {p['tune']!r}")
    body = sampling.lm_sample_piece(
        net,
        tune=tune.name,
        form=tune.form,
        opening=p["opening"],
        temperature=p["temperature"],
        top_k=p["top_k"],
        seed=job.seed,
    )
    return [piece_text(tune.name, body)]


def produce_id_for(job: Job, index: int) -> str:
    """The ProduceID of output ``index`` of ``job``: stable across retries, unique, label-safe."""
    return uuid.uuid5(job.public_id, str(index)).hex


class OutputBlocked(Exception):
    """Output moderation withheld the generated text."""

    def __init__(self, verdict: Any) -> None:
        super().__init__("output blocked")
        self.verdict = verdict


def producer_code_for(checkpoint: Checkpoint) -> str:
    """The ContentProducer code of outputs of ``checkpoint``: provider USCC, generation service, model code."""
    from generation.labels import producer_code_build

    record = checkpoint.model_record
    if record is None:
        raise RuntimeError("the checkpoint belongs to no model record, so its outputs cannot be labelled")
    return producer_code_build(uscc=record.service.provider.uscc, service_type="1", model_code=record.code)


def _deliverable(item: Any, *, produce_id: str, producer: str, unlabelled: bool = False) -> Deliverable:
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


def _output_moderation(job: Job, samples: list[Any]) -> dict[str, Any] | None:
    """Moderate generated text before anything is stored; raises OutputBlocked when it must be withheld."""
    texts = [item for item in samples if isinstance(item, str)]
    if not texts:
        return None
    verdict = _moderate("\n".join(texts), output=True, user=job.user)
    if verdict.blocked:
        raise OutputBlocked(verdict)
    return verdict.as_dict()


@transaction.atomic
def _block(job: Job, verdict: Any) -> None:
    from generation.moderation import refusal_message

    reason = refusal_message(verdict)
    updated = Job.objects.filter(pk=job.pk, status=Job.Status.RUNNING, attempts=job.attempts).update(
        status=Job.Status.REFUSED,
        reason=reason,
        risk_codes=list(verdict.risk_codes),
        moderation={**job.moderation, "output": verdict.as_dict()},
        finished_at=timezone.now(),
    )
    if updated:
        usage_job_given_back(job=job)
        audit.generation_event(
            event_type="generation.output_blocked",
            actor=job.user,
            subject=job,
            **_serving_facts(job.checkpoint),
            keyword_library_version=str(verdict.library_version),
            decision="blocked",
            risk_codes=list(verdict.risk_codes),
            payload={"job_id": str(job.public_id), "kind": job.kind, "latency_ms": _latency_ms(job)},
        )


def job_run(*, job_id: int, worker: str = "") -> Job | None:
    """Run a queued job to the end. Returns the job, or None if it was not this call's to run."""
    job = _claim(job_id, worker)
    if job is None:
        logger.info("job %s is not queued; nothing to do", job_id)
        return None
    try:
        assert job.checkpoint is not None  # set at submission
        producer = producer_code_for(job.checkpoint)
        record = job.checkpoint.model_record
        unlabelled = unlabelled_delivery_version(user=job.user, service=record.service if record else None) is not None
        loaded = net_load(job.checkpoint)
        samples = _sample(job, loaded.net)
        if len(samples) != output_count(job.kind, job.params):
            raise RuntimeError(f"the net returned {len(samples)} items, expected {output_count(job.kind, job.params)}")
        output_verdict = _output_moderation(job, samples)
        deliverables = [
            _deliverable(item, produce_id=produce_id_for(job, index), producer=producer, unlabelled=unlabelled)
            for index, item in enumerate(samples)
        ]
    except OutputBlocked as blocked:
        _block(job, blocked.verdict)
        job.refresh_from_db()
        return job
    except Exception as exc:
        logger.exception("job %s failed", job.pk)
        _fail(job, _("Generation failed: %(error)s") % {"error": str(exc) or type(exc).__name__})
        job.refresh_from_db()
        return job

    # Files are named by ProduceID, so a retry overwrites rather than adds.
    def save(name: str, content: bytes) -> str:
        if default_storage.exists(name):
            default_storage.delete(name)
        return default_storage.save(name, ContentFile(content))

    stored: list[tuple[int, Deliverable, str, str, str]] = []
    for index, item in enumerate(deliverables):
        produce_id = produce_id_for(job, index)
        base = f"outputs/{job.public_id.hex}/{produce_id}"
        name = save(f"{base}.{item.extension}", item.content)
        plain = save(f"{base}.unlabelled.{item.extension}", item.content_unlabelled) if item.content_unlabelled else ""
        stored.append((index, item, produce_id, name, plain))

    with transaction.atomic():
        current = (
            Job.objects.select_for_update(of=("self",))
            .select_related("checkpoint__model_record__service", "user")
            .get(pk=job.pk)
        )
        if current.status != Job.Status.RUNNING or current.attempts != job.attempts:
            # The sweeper gave this job to another worker meanwhile; that worker finishes it.
            logger.warning("job %s was reassigned while running; dropping this attempt", job.pk)
            return None
        outputs = Output.objects.bulk_create(
            [
                Output(
                    job=current,
                    index=index,
                    produce_id=produce_id,
                    media=item.media,
                    file=name,
                    file_unlabelled=plain,
                    text=item.text,
                    sha256=hashlib.sha256(item.content).hexdigest(),
                )
                for index, item, produce_id, name, plain in stored
            ]
        )
        current.status = Job.Status.SUCCEEDED
        current.finished_at = timezone.now()
        if output_verdict:
            current.moderation = {**current.moderation, "output": output_verdict}
        current.save(update_fields=["status", "finished_at", "moderation"])
        # One record per output, so that an output's ProduceID leads to its own record.
        for output, (_index, item, _produce_id, _name, _plain) in zip(outputs, stored, strict=True):
            audit.generation_event(
                event_type="generation.succeeded",
                actor=current.user,
                subject=output,
                **_serving_facts(current.checkpoint),
                produce_id=output.produce_id,
                output_content=item.content,
                output_media_type="image/png" if item.media == Output.Media.IMAGE else "text/markdown",
                decision="allowed",
                payload={
                    "job_id": str(current.public_id),
                    "kind": current.kind,
                    "output_ids": [output.produce_id],
                    "latency_ms": _latency_ms(current),
                },
            )
    return current


def jobs_sweep(*, now: Any = None) -> dict[str, int]:
    """Recover jobs the broker or a worker lost. Safe to run from several schedulers at once."""
    now = now or timezone.now()
    counts = {"requeued": 0, "resent": 0, "given_up": 0}
    stale = now - timedelta(seconds=settings.JOB_STALE_SECONDS)
    resend = now - timedelta(seconds=settings.JOB_RESEND_SECONDS)
    with transaction.atomic():
        for job in Job.objects.select_for_update(skip_locked=True).filter(
            status=Job.Status.RUNNING, started_at__lt=stale
        ):
            if job.attempts >= settings.JOB_MAX_ATTEMPTS:
                job.status = Job.Status.FAILED
                job.reason = _("Generation failed repeatedly; please try again later.")
                job.finished_at = now
                job.save(update_fields=["status", "reason", "finished_at"])
                usage_job_given_back(job=job)
                counts["given_up"] += 1
                continue
            job.status = Job.Status.QUEUED
            job.worker = ""
            job.enqueued_at = now
            job.save(update_fields=["status", "worker", "enqueued_at"])
            transaction.on_commit(functools.partial(_enqueue, job))
            counts["requeued"] += 1
        for job in Job.objects.select_for_update(skip_locked=True).filter(
            status=Job.Status.QUEUED, enqueued_at__lt=resend
        ):
            job.enqueued_at = now
            job.save(update_fields=["enqueued_at"])
            transaction.on_commit(functools.partial(_enqueue, job))
            counts["resent"] += 1
    return counts


# ------------------------------------------------------------------------------
# Removing content (incidents)
# ------------------------------------------------------------------------------
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

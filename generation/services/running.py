"""Running a job on a worker, and the sweeper.

``job_run`` claims the row ``queued → running`` under a row lock. A second delivery of the same message finds
the job no longer queued and returns: the claim makes the task idempotent, so tasks use ``acks_late``.
Sampling, output moderation and labelling happen outside any transaction; the outputs and the ``succeeded``
status are then written in one transaction, and only if this worker's claim is still the current one.
Outputs are unique per (job, index), so nothing is written twice. The sweeper (``jobs_sweep``) gives back
to the queue a job whose worker died while running it and sends again a job whose message was lost, up to
``JOB_MAX_ATTEMPTS``. Torch is imported only inside the functions that run in workers.
"""

from __future__ import annotations

import functools
import hashlib
import logging
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from audit import services as audit
from genai_platform.joined import Joined, quoted, table
from genai_platform.prepared import execute_prepared
from generation.models import Checkpoint, Job, Output
from generation.params import output_count
from generation.services.delivery import (
    Deliverable,
    deliverable,
    produce_id_for,
    producer_code_for,
    unlabelled_delivery_version,
)
from generation.services.gate import checkpoint_tunes, moderate, serving_facts
from generation.services.jobs import job_enqueue
from generation.usage import usage_job_given_back

if TYPE_CHECKING:
    from generation.ml.checkpoints import LoadedNet

logger = logging.getLogger(__name__)


@functools.cache
def _claim_read() -> tuple[str, Joined]:
    """The job with its user and its checkpoint's chain (model record, service, provider), its row locked on
    PostgreSQL: SQL written once per process and prepared once per connection, as the admission read is."""
    job = Joined(Job, ["checkpoint__model_record__service__provider", "user"])
    lock = " FOR UPDATE OF a0" if connection.features.has_select_for_update_of else ""
    # Our own SQL from the models' names; the job's key is a parameter.
    sql = f"SELECT {job.columns} FROM {table(Job)} a0 {job.joins} WHERE a0.{quoted(Job._meta.pk)} = %s{lock}"  # noqa: S608
    return sql, job


def _claim(job_id: int, worker: str) -> Job | None:
    sql, joined = _claim_read()
    with transaction.atomic():
        with connection.cursor() as cursor:
            execute_prepared(cursor, "genai_job_claim", sql, [job_id])
            row = cursor.fetchone()
        job = joined.instances(row) if row else None
        if not isinstance(job, Job) or job.status != Job.Status.QUEUED:
            return None
        job.status = Job.Status.RUNNING
        job.attempts += 1
        job.worker = worker
        job.started_at = timezone.now()
        job.save(update_fields=["status", "attempts", "worker", "started_at"])
        return job


def latency_ms(job: Job) -> float:
    return round((timezone.now() - job.created_at).total_seconds() * 1000, 1)


def _end_without_outputs(
    job: Job, *, event_type: str, facts: dict[str, Any], fields: dict[str, Any], record: dict[str, Any] | None = None
) -> None:
    """End ``job`` with the ``fields`` set (its status among them) and no outputs, if this worker's claim is still
    the current one: the job is given back to the daily quota, and the ``event_type`` audit record holds the job,
    ``facts`` in its payload and ``record`` as its own fields."""
    updated = Job.objects.filter(pk=job.pk, status=Job.Status.RUNNING, attempts=job.attempts).update(
        **fields, finished_at=timezone.now()
    )
    if updated:
        usage_job_given_back(job=job)
        audit.generation_event(
            event_type=event_type,
            actor=job.user,
            subject=job,
            **serving_facts(job.checkpoint),
            **(record or {}),
            payload={"job_id": str(job.public_id), "kind": job.kind, "latency_ms": latency_ms(job), **facts},
        )


@transaction.atomic
def _fail(job: Job, reason: str) -> None:
    _end_without_outputs(
        job,
        event_type="generation.failed",
        facts={"reason": reason},
        fields={"status": Job.Status.FAILED, "reason": reason},
    )


_NET_CACHE: dict[str, LoadedNet] = {}


_NET_CACHE_SIZE = 6


def net_load(checkpoint: Checkpoint) -> LoadedNet:
    """The net of ``checkpoint``, loaded once per worker process onto its torch device (``GENAI_TORCH_DEVICE``) and
    verified against its SHA-256."""
    from generation.ml.checkpoints import checkpoint_loads
    from generation.torch_device import torch_device

    loaded = _NET_CACHE.get(checkpoint.sha256)
    if loaded is None:
        with checkpoint.file.open("rb") as f:
            data = f.read()
        loaded = checkpoint_loads(data, expected_sha256=checkpoint.sha256, device=torch_device())
        if len(_NET_CACHE) >= _NET_CACHE_SIZE:
            _NET_CACHE.pop(next(iter(_NET_CACHE)))
        _NET_CACHE[checkpoint.sha256] = loaded
    return loaded


def job_sample(job: Job, net: Any) -> list[Any]:
    """Run the net for ``job``: a list of uint8 arrays (images) or of strings (text)."""
    from generation.ml import sampling

    return sampling.sample(job.kind, job.params, seed=job.seed, net=net, tunes=checkpoint_tunes(job.checkpoint) or [])


class OutputBlocked(Exception):
    """Output moderation withheld the generated text."""

    def __init__(self, verdict: Any) -> None:
        super().__init__("output blocked")
        self.verdict = verdict


def _output_moderation(job: Job, samples: list[Any]) -> dict[str, Any] | None:
    """Moderate generated text before anything is stored; raises OutputBlocked when it must be withheld."""
    texts = [item for item in samples if isinstance(item, str)]
    if not texts:
        return None
    verdict = moderate("\n".join(texts), output=True, user=job.user)
    if verdict.blocked:
        raise OutputBlocked(verdict)
    return verdict.as_dict()


@transaction.atomic
def _block(job: Job, verdict: Any) -> None:
    from generation.moderation import refusal_message, verdict_audit_facts

    _end_without_outputs(
        job,
        event_type="generation.output_blocked",
        facts=verdict_audit_facts(verdict),
        fields={
            "status": Job.Status.REFUSED,
            "reason": refusal_message(verdict),
            "risk_codes": list(verdict.risk_codes),
            "moderation": {**job.moderation, "output": verdict.as_dict()},
        },
        record={
            "keyword_library_version": str(verdict.library_version),
            "decision": "blocked",
            "risk_codes": list(verdict.risk_codes),
        },
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
        samples = job_sample(job, loaded.net)
        if len(samples) != output_count(job.kind, job.params):
            raise RuntimeError(f"the net returned {len(samples)} items, expected {output_count(job.kind, job.params)}")
        output_verdict = _output_moderation(job, samples)
        deliverables = [
            deliverable(item, produce_id=produce_id_for(job, index), producer=producer, unlabelled=unlabelled)
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
        # Finished only if this worker's claim is still the current one: the status and the attempt number are the
        # claim, so the update that ends the job is also the check (no row read back, no lock taken before).
        finished_at = timezone.now()
        moderation = {**job.moderation, "output": output_verdict} if output_verdict else job.moderation
        ended = Job.objects.filter(pk=job.pk, status=Job.Status.RUNNING, attempts=job.attempts).update(
            status=Job.Status.SUCCEEDED, finished_at=finished_at, moderation=moderation
        )
        if not ended:
            # The sweeper gave this job to another worker meanwhile; that worker finishes it.
            logger.warning("job %s was reassigned while running; dropping this attempt", job.pk)
            return None
        job.status, job.finished_at, job.moderation = Job.Status.SUCCEEDED, finished_at, moderation
        outputs = Output.objects.bulk_create(
            [
                Output(
                    job=job,
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
        # One record per output, so that an output's ProduceID leads to its own record.
        for output, (_index, item, _produce_id, _name, _plain) in zip(outputs, stored, strict=True):
            audit.generation_event(
                event_type="generation.succeeded",
                actor=job.user,
                subject=output,
                **serving_facts(job.checkpoint),
                produce_id=output.produce_id,
                output_content=item.content,
                output_media_type="image/png" if item.media == Output.Media.IMAGE else "text/markdown",
                decision="allowed",
                payload={
                    "job_id": str(job.public_id),
                    "kind": job.kind,
                    "output_ids": [output.produce_id],
                    "latency_ms": latency_ms(job),
                },
            )
    return job


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
            transaction.on_commit(functools.partial(job_enqueue, job))
            counts["requeued"] += 1
        for job in Job.objects.select_for_update(skip_locked=True).filter(
            status=Job.Status.QUEUED, enqueued_at__lt=resend
        ):
            job.enqueued_at = now
            job.save(update_fields=["enqueued_at"])
            transaction.on_commit(functools.partial(job_enqueue, job))
            counts["resent"] += 1
    return counts

"""Training runs: created by operators (admin, ``manage.py train``) and executed on the training queue.

A run records what went in (hyperparameters, seed, dataset fingerprints, code and torch versions)
and, epoch by epoch, what came out (losses, quality metrics, a picture of samples). The best epoch by
the training metric becomes a checkpoint, which is then measured for the quality gate on data it was
not chosen on; it starts serving only if it passes the gate and beats the checkpoint serving (or none
that passed serves). A run cancelled by an operator or interrupted by the platform stopping keeps its
best epoch as a checkpoint, unmeasured, so it never serves on its own.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from audit import services as audit
from filing.selectors import dataset_training_refusal
from filing.services import dataset_register
from genai_platform.outages import BROKER, BROKER_SEND_ERRORS, NEVER_SENT
from generation.checkpoints import (
    checkpoint_beats,
    checkpoint_promote,
    checkpoint_serving,
    checkpoint_store,
    record_refusal,
)
from generation.ml.version import code_version
from generation.models import (
    DEFAULT_TRAINING_DATA,
    TRAINING_DATA_OF_KIND,
    NetKind,
    TrainingData,
    TrainingEpoch,
    TrainingRun,
)

logger = logging.getLogger(__name__)

# The share of the progress bar each phase of a run takes, from its start to its end.
PHASE_SPANS: dict[str, dict[str, tuple[float, float]]] = {
    NetKind.GAN: {
        TrainingRun.Phase.TRAINING: (0.0, 0.85),
        TrainingRun.Phase.CHOOSING: (0.85, 0.93),
        TrainingRun.Phase.MEASURING: (0.93, 1.0),
    },
    NetKind.VAE: {TrainingRun.Phase.TRAINING: (0.0, 0.95), TrainingRun.Phase.MEASURING: (0.95, 1.0)},
    NetKind.LM: {TrainingRun.Phase.TRAINING: (0.0, 0.9), TrainingRun.Phase.MEASURING: (0.9, 1.0)},
    NetKind.CLASSIFIER: {TrainingRun.Phase.TRAINING: (0.0, 0.95), TrainingRun.Phase.MEASURING: (0.95, 1.0)},
}


def training_request_validate(*, kind: str, data: str | None, epochs: int | None, minutes: float | None) -> str:
    """Check what an operator asks to train; returns the training data to use (the net's default if none)."""
    if kind not in NetKind.values:
        raise ValidationError({"kind": _("Unknown net: choose gan, vae, lm or classifier.")})
    if epochs is None and minutes is None:
        raise ValidationError(_("Give a number of epochs, a time budget in minutes, or both."))
    data = data or DEFAULT_TRAINING_DATA[NetKind(kind)]
    if data not in TRAINING_DATA_OF_KIND[NetKind(kind)]:
        raise ValidationError(
            {
                "data": _(
                    "The language model trains on text, the GAN and the VAE on digits, the classifier on labelled "
                    "texts (COLD)."
                )
            }
        )
    if epochs is not None and epochs < 1:
        raise ValidationError({"epochs": _("Train for at least one epoch.")})
    if minutes is not None and not 0 < minutes <= settings.TRAINING_MAX_MINUTES:
        raise ValidationError(
            {
                "minutes": _("The time budget must be above 0 and at most %(n)d minutes.")
                % {"n": settings.TRAINING_MAX_MINUTES}
            }
        )
    return data


def training_run_create(
    *,
    kind: str,
    seed: int = 0,
    epochs: int | None = None,
    minutes: float | None = None,
    config: dict[str, Any] | None = None,
    data: str | None = None,
    requested_by: Any = None,
    is_demo: bool = False,
    enqueue: bool = True,
    model_record: Any = None,
    serve_if_better: bool = False,
    origin: str = "admin",
    request: Any = None,
) -> TrainingRun:
    """Record a training run and send it to the training queue.

    Its checkpoint serves only if the operator named the approved model record of the public service it is a
    version of and asked for it (``serve_if_better``); otherwise it is kept for an operator to serve explicitly.
    ``origin`` says where the operator started it (admin or terminal): a ``generation.training_started`` audit
    record, in the transaction that stores the run.
    """
    data = training_request_validate(kind=kind, data=data, epochs=epochs, minutes=minutes)
    if serve_if_better and model_record is None:
        raise ValidationError({"model_record": _("Name the model record the checkpoint would serve under.")})
    if model_record is not None:
        from generation.checkpoints import serving_records

        if model_record not in serving_records(kind):
            raise ValidationError(
                {"model_record": _("Choose an approved model record of the public service for this kind of net.")}
            )
    with transaction.atomic():
        run = TrainingRun.objects.create(
            kind=kind,
            seed=seed,
            epochs=epochs,
            minutes=minutes,
            config=config or {},
            data=data,
            model_record=model_record,
            serve_if_better=serve_if_better,
            requested_by=requested_by,
            is_demo=is_demo,
        )
        audit.generation_event(
            event_type="generation.training_started",
            actor=requested_by,
            request=request,
            subject=run,
            model_record=str(model_record) if model_record is not None else None,
            actor_username=None if requested_by is not None or request is not None else f"system:{origin}",
            payload={
                "run_id": run.pk,
                "kind": kind,
                "origin": origin,
                "data": data,
                "seed": seed,
                "epochs": epochs,
                "minutes": minutes,
                "model_record": str(model_record) if model_record is not None else None,
                "serve_if_better": serve_if_better,
            },
        )
        if enqueue:
            transaction.on_commit(lambda: _enqueue(run))
    return run


def _enqueue(run: TrainingRun) -> None:
    """Send the run to the training queue; a broker that cannot be reached marks it failed at once, with a reason
    to start it again, rather than leaving it queued with nothing to run it."""
    from generation.tasks import training_run_task

    try:
        training_run_task.apply_async(kwargs={"run_id": run.pk})
    except BROKER_SEND_ERRORS as exc:
        BROKER.failed(exc, "filing exports and training runs started now are marked failed")
        run.status, run.phase, run.error = TrainingRun.Status.FAILED, TrainingRun.Phase.DONE, str(NEVER_SENT)
        run.finished_at = timezone.now()
        TrainingRun.objects.filter(pk=run.pk, status=TrainingRun.Status.QUEUED).update(
            status=run.status, phase=run.phase, error=run.error, finished_at=run.finished_at
        )
    else:
        BROKER.answered()


def _training_data(run: TrainingRun) -> Any:
    from generation.ml import data

    choice = TrainingData(run.data or DEFAULT_TRAINING_DATA[NetKind(run.kind)])
    if choice == TrainingData.MNIST5K:
        return data.mnist5k()
    if choice == TrainingData.DIGITS8:
        return data.digits8()
    if choice == TrainingData.COLD:
        return data.cold("train")
    return data.songci()


class TrainingRefused(Exception):
    """The data may not be trained on (its source safety check failed)."""


def _dataset_record(run: TrainingRun, data: Any) -> None:
    """Register the exact bytes trained on as a filing dataset record and link it to the run.

    Raises TrainingRefused when the dataset failed its source safety check.
    """
    dataset = dataset_register(**data.facts())
    run.datasets.add(dataset)
    refusal = dataset_training_refusal(dataset)
    if refusal:
        raise TrainingRefused(refusal)


def _claim(run_id: int, worker: str) -> TrainingRun | None:
    with transaction.atomic():
        run = TrainingRun.objects.select_for_update().filter(pk=run_id).first()
        if run is None or run.status != TrainingRun.Status.QUEUED:
            return None
        run.status = TrainingRun.Status.RUNNING
        run.phase = TrainingRun.Phase.TRAINING
        run.worker = worker
        run.started_at = timezone.now()
        run.code_version = code_version()
        run.save(update_fields=["status", "phase", "worker", "started_at", "code_version"])
        return run


@transaction.atomic
def training_run_cancel(*, run: TrainingRun, actor: Any = None, request: Any = None) -> bool:
    """Cancel a queued run at once, or ask a running one to stop at its next check (it keeps its best epoch).

    Returns whether there was anything to cancel; that is a ``generation.training_cancelled`` audit record."""
    locked = TrainingRun.objects.select_for_update().filter(pk=run.pk).first()
    if locked is None or locked.status not in (TrainingRun.Status.QUEUED, TrainingRun.Status.RUNNING):
        return False
    if locked.status == TrainingRun.Status.RUNNING and locked.cancel_requested:
        return False
    status = locked.status
    if status == TrainingRun.Status.QUEUED:
        TrainingRun.objects.filter(pk=run.pk).update(
            status=TrainingRun.Status.CANCELLED, phase=TrainingRun.Phase.DONE, finished_at=timezone.now()
        )
    else:
        TrainingRun.objects.filter(pk=run.pk).update(cancel_requested=True)
    audit.generation_event(
        event_type="generation.training_cancelled",
        actor=actor,
        request=request,
        subject=locked,
        payload={"run_id": locked.pk, "kind": locked.kind, "status": status},
    )
    return True


def training_runs_interrupt(*, worker: str) -> int:
    """Ask the runs ``worker`` is training to stop soon and keep their best epoch (the worker is shutting down).

    The run records ``generation.training_interrupted`` when it stops."""
    return TrainingRun.objects.filter(status=TrainingRun.Status.RUNNING, worker=worker).update(interrupt_requested=True)


def _interrupted_record(run: TrainingRun, *, how: str, kept: bool) -> None:
    audit.generation_event(
        event_type="generation.training_interrupted",
        actor=None,
        actor_username=f"system:{run.worker or 'worker'}",
        subject=run,
        payload={"run_id": run.pk, "kind": run.kind, "how": how, "checkpoint_kept": kept},
    )


@transaction.atomic
def training_runs_orphaned(*, worker: str) -> int:
    """Mark as interrupted the runs ``worker`` was training when it died without a chance to stop them."""
    runs = list(TrainingRun.objects.select_for_update().filter(status=TrainingRun.Status.RUNNING, worker=worker))
    for run in runs:
        TrainingRun.objects.filter(pk=run.pk).update(
            status=TrainingRun.Status.INTERRUPTED,
            phase=TrainingRun.Phase.DONE,
            error=_("The worker stopped while training; nothing was kept from this run."),
            finished_at=timezone.now(),
        )
        _interrupted_record(run, how="worker_lost", kept=False)
    return len(runs)


@transaction.atomic
def training_run_abandon(*, run_id: int) -> None:
    """End a run stopped at once by a second Ctrl-C in ``manage.py train``: interrupted, nothing kept."""
    run = TrainingRun.objects.select_for_update().filter(pk=run_id).first()
    if run is None or run.status in TrainingRun.FINISHED:
        return
    TrainingRun.objects.filter(pk=run.pk).update(
        status=TrainingRun.Status.INTERRUPTED,
        phase=TrainingRun.Phase.DONE,
        error="interrupted",
        finished_at=timezone.now(),
    )
    _interrupted_record(run, how="ctrl_c_twice", kept=False)


def _stop_requested(run: TrainingRun) -> str | None:
    """``"cancel"`` or ``"interrupt"`` when the run was asked to stop, else None."""
    flags = TrainingRun.objects.filter(pk=run.pk).values_list("cancel_requested", "interrupt_requested").first()
    if flags is None:
        return None
    cancel, interrupt = flags
    if cancel:
        return "cancel"
    return "interrupt" if interrupt else None


class _Progress:
    """The run's progress bar over every phase: training, choosing the GAN's noise scale, measuring."""

    def __init__(self, run: TrainingRun) -> None:
        self.run = run
        self.spans = PHASE_SPANS[NetKind(run.kind)]
        self.started = time.monotonic()

    def phase(self, name: str) -> None:
        start = self.spans.get(name, (0.0, 0.0))[0] if name != TrainingRun.Phase.DONE else 1.0
        TrainingRun.objects.filter(pk=self.run.pk).update(phase=name, progress=start)

    def training(self, epoch: int) -> None:
        fractions = []
        if self.run.epochs:
            fractions.append(epoch / self.run.epochs)
        if self.run.minutes:
            fractions.append((time.monotonic() - self.started) / (self.run.minutes * 60))
        start, end = self.spans[TrainingRun.Phase.TRAINING]
        done = min(1.0, max(fractions, default=0.0))
        TrainingRun.objects.filter(pk=self.run.pk).update(progress=start + (end - start) * done)


def _figures(run: TrainingRun, checkpoint: bytes, sha256: str, data: Any, should_stop: Callable[[], bool]) -> Any:
    """The quality gate's figures of the run's checkpoint, or None when the run was asked to stop meanwhile."""
    from generation.ml.checkpoints import checkpoint_loads
    from generation.ml.evaluation import MeasurementStopped, figures_for, measured_on
    from generation.torch_device import torch_device

    loaded = checkpoint_loads(checkpoint, expected_sha256=sha256, device=torch_device())
    try:
        return figures_for(run.kind, loaded.net, measured_on(run.kind, data), should_stop=should_stop)
    except MeasurementStopped:
        return None


def training_run_execute(
    *,
    run_id: int,
    worker: str = "",
    on_epoch: Callable[[Any], None] | None = None,
    interrupted: Callable[[], bool] | None = None,
) -> TrainingRun | None:
    """Train, record every epoch, store the best checkpoint, measure it for the gate and promote it if it
    passes and beats the one serving. Returns None if the run was not queued.

    ``interrupted``, if given, is asked along with the run's own flags: when it says so the run stops as
    interrupted (``manage.py train`` passes its Ctrl-C this way).
    """
    from generation.ml.training import train
    from generation.torch_device import torch_device

    run = _claim(run_id, worker)
    if run is None:
        return None
    progress = _Progress(run)

    interrupted_here = False

    def stop_reason() -> str | None:
        nonlocal interrupted_here
        if interrupted is not None and interrupted():
            interrupted_here = True
            return "interrupt"
        return _stop_requested(run)

    def stop() -> bool:
        # Training asks at most once a second (its clock keeps the pace), measuring between draws or pieces.
        return stop_reason() is not None

    def record_epoch(report: Any) -> None:
        samples = (
            ContentFile(report.sample_png, name=f"run{run.pk}-epoch{report.epoch}.png") if report.sample_png else None
        )
        TrainingEpoch.objects.update_or_create(
            run=run,
            epoch=report.epoch,
            defaults={
                "losses": report.losses,
                "metrics": report.metrics,
                "seconds": report.seconds,
                **({"samples": samples} if samples else {}),
            },
        )
        progress.training(report.epoch)
        if on_epoch:
            on_epoch(report)

    try:
        device = torch_device()  # before the data: a device that cannot be used fails the run at once
        data = _training_data(run)
        _dataset_record(run, data)
        result = train(
            run.kind,  # type: ignore[arg-type]  # one of NetKind's values, which train() spells as a Literal
            seed=run.seed,
            epochs=run.epochs,
            minutes=run.minutes,
            config=run.config or None,
            data=data,
            on_epoch=record_epoch,
            on_phase=progress.phase,
            should_stop=stop,
            threads=settings.GENAI_TORCH_THREADS,
            device=device,
        )
        stopped = stop_reason()
        figures = None
        if stopped is None:
            progress.phase(TrainingRun.Phase.MEASURING)
            figures = _figures(run, result.checkpoint, result.checkpoint_sha256, data, stop)
            stopped = stop_reason()
    except Exception as exc:
        logger.exception("training run %s failed", run.pk)
        TrainingRun.objects.filter(pk=run.pk).update(
            status=TrainingRun.Status.FAILED,
            phase=TrainingRun.Phase.DONE,
            error=str(exc) or type(exc).__name__,
            finished_at=timezone.now(),
        )
        run.refresh_from_db()
        return run

    with transaction.atomic():
        checkpoint = checkpoint_store(
            kind=run.kind,
            data=result.checkpoint,
            sha256=result.checkpoint_sha256,
            config=result.hyperparameters,
            metric_name=result.metric_name,
            metric_value=result.best_metric,
            training_run=run,
            model_record=run.model_record,
            figures=figures,
            tunes=result.tunes,
        )
        if (
            run.serve_if_better
            and figures is not None
            and checkpoint_beats(checkpoint, checkpoint_serving(run.kind))
            and record_refusal(checkpoint, run.model_record) is None
        ):
            checkpoint_promote(checkpoint=checkpoint, actor=run.requested_by, by="training")
        run.status = {
            "cancel": TrainingRun.Status.CANCELLED,
            "interrupt": TrainingRun.Status.INTERRUPTED,
            None: TrainingRun.Status.SUCCEEDED,
        }[stopped]
        run.phase = TrainingRun.Phase.DONE
        run.hyperparameters = result.hyperparameters
        run.dataset_names = list(result.dataset_names)
        run.dataset_fingerprints = list(result.dataset_fingerprints)
        run.torch_version = result.torch_version
        run.metric_name = result.metric_name
        run.best_metric = result.best_metric if math.isfinite(result.best_metric) else None
        run.best_epoch = result.best_epoch
        run.progress = 1.0
        run.finished_at = timezone.now()
        run.save()
        if stopped == "interrupt":
            _interrupted_record(run, how="ctrl_c" if interrupted_here else "worker_shutdown", kept=True)
    return run

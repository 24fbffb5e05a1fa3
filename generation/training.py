"""Training runs: created by operators (admin, ``manage.py train``) and executed on the training queue.

A run records what went in (hyperparameters, seed, dataset fingerprints, code and torch versions)
and, epoch by epoch, what came out (losses, quality metrics, a picture of samples). The best
epoch by the quality metric becomes a checkpoint; it starts serving when no checkpoint of that
net serves yet or when it beats the one that does.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from filing.selectors import dataset_training_refusal
from filing.services import dataset_register, model_record_for_net
from genai_platform.version import code_version
from generation.models import (
    DEFAULT_TRAINING_DATA,
    NET_TYPE_OF_KIND,
    Checkpoint,
    NetKind,
    TrainingData,
    TrainingEpoch,
    TrainingRun,
)
from generation.services import checkpoint_activate, checkpoint_serving, checkpoint_store

logger = logging.getLogger(__name__)

# Quick trainings started at first start so a fresh install can generate within minutes.
DEMO_MINUTES = {NetKind.GAN: 3.0, NetKind.VAE: 1.0, NetKind.LM: 3.0}
# Short epochs and a smaller held-out sample, so a demo run shows progress every few seconds; the GAN's noise
# scale is chosen on one draw per candidate rather than three, so the demo ends soon after its minutes.
DEMO_CONFIG: dict[str, dict[str, Any]] = {
    NetKind.LM: {"steps_per_epoch": 40, "eval_chars": 20000},
    NetKind.GAN: {"latent_scale_draws": 1},
}
# Metrics where lower is better (all of ours: FID, nats).
LOWER_IS_BETTER = True


def training_request_validate(*, kind: str, data: str | None, epochs: int | None, minutes: float | None) -> str:
    """Check what an operator asks to train; returns the training data to use (the net's default if none)."""
    if kind not in NetKind.values:
        raise ValidationError({"kind": _("Unknown net: choose gan, vae or lm.")})
    if epochs is None and minutes is None:
        raise ValidationError(_("Give a number of epochs, a time budget in minutes, or both."))
    data = data or DEFAULT_TRAINING_DATA[NetKind(kind)]
    if (kind == NetKind.LM) != (data == TrainingData.SONGCI):
        raise ValidationError({"data": _("The language model trains on text, the GAN and the VAE on digits.")})
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
) -> TrainingRun:
    data = training_request_validate(kind=kind, data=data, epochs=epochs, minutes=minutes)
    with transaction.atomic():
        run = TrainingRun.objects.create(
            kind=kind,
            seed=seed,
            epochs=epochs,
            minutes=minutes,
            config=config or {},
            data=data,
            model_record=model_record_for_net(net_type=NET_TYPE_OF_KIND[NetKind(kind)]),
            requested_by=requested_by,
            is_demo=is_demo,
        )
        if enqueue:
            transaction.on_commit(lambda: _enqueue(run))
    return run


def _enqueue(run: TrainingRun) -> None:
    from generation.tasks import training_run_task

    training_run_task.apply_async(kwargs={"run_id": run.pk})


def training_bootstrap() -> list[TrainingRun]:
    """Start a quick demo training for every net that has no checkpoint and no training under way."""
    started = []
    for kind in sorted(NetKind.values, key=lambda k: DEMO_MINUTES[NetKind(k)]):  # quickest first
        if Checkpoint.objects.filter(kind=kind).exists():
            continue
        if TrainingRun.objects.filter(
            kind=kind, status__in=[TrainingRun.Status.QUEUED, TrainingRun.Status.RUNNING]
        ).exists():
            continue
        started.append(
            training_run_create(
                kind=kind, minutes=DEMO_MINUTES[NetKind(kind)], config=DEMO_CONFIG.get(kind), is_demo=True
            )
        )
    return started


def _training_data(run: TrainingRun) -> Any:
    from generation.ml import data

    choice = TrainingData(run.data or DEFAULT_TRAINING_DATA[NetKind(run.kind)])
    if choice == TrainingData.MNIST5K:
        return data.mnist5k()
    if choice == TrainingData.DIGITS8:
        return data.digits8()
    return data.songci()


class TrainingRefused(Exception):
    """The data may not be trained on (its source safety check failed)."""


def _dataset_record(run: TrainingRun, data: Any) -> None:
    """Register the exact bytes trained on as a filing dataset record and link it to the run.

    Raises TrainingRefused when the dataset failed its source safety check.
    """
    if hasattr(data, "train_x"):
        items = int(data.train_x.shape[0] + data.test_x.shape[0])
        size = int(data.train_x.numel() + data.test_x.numel())
    else:
        items = data.text.count("\n") + 1
        size = len(data.text.encode())
    dataset = dataset_register(
        name=data.name,
        sha256=data.fingerprint,
        source=data.source,
        licence=data.licence,
        licence_text=getattr(data, "licence_text", ""),
        items=items,
        size_bytes=size,
    )
    run.datasets.add(dataset)
    refusal = dataset_training_refusal(dataset)
    if refusal:
        raise TrainingRefused(refusal)


def _claim(run_id: int) -> TrainingRun | None:
    with transaction.atomic():
        run = TrainingRun.objects.select_for_update().filter(pk=run_id).first()
        if run is None or run.status != TrainingRun.Status.QUEUED:
            return None
        run.status = TrainingRun.Status.RUNNING
        run.started_at = timezone.now()
        run.code_version = code_version()
        run.save(update_fields=["status", "started_at", "code_version"])
        return run


def training_run_cancel(*, run: TrainingRun) -> None:
    TrainingRun.objects.filter(pk=run.pk, status=TrainingRun.Status.QUEUED).update(
        status=TrainingRun.Status.CANCELLED, finished_at=timezone.now()
    )
    TrainingRun.objects.filter(pk=run.pk, status=TrainingRun.Status.RUNNING).update(cancel_requested=True)


def _same_measure(serving: dict[str, Any], new: dict[str, Any]) -> bool:
    """Whether two runs' quality figures were measured alike, so the lower one is the better net.

    The GAN's digit-FID comes from a classifier each host trains at first use (floating-point results differ
    between CPUs); a checkpoint trained on a host with another classifier is kept but not served automatically.
    A run that does not record its classifier (older runs, other kinds) is taken as measured alike.
    """
    mine, theirs = serving.get("fid_classifier_sha256"), new.get("fid_classifier_sha256")
    return mine is None or theirs is None or mine == theirs


def training_run_execute(
    *, run_id: int, worker: str = "", on_epoch: Callable[[Any], None] | None = None
) -> TrainingRun | None:
    """Train, record every epoch, store the best checkpoint. Returns None if the run was not queued."""
    from generation.ml.training import train

    run = _claim(run_id)
    if run is None:
        return None
    started = time.monotonic()

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
        fractions = []
        if run.epochs:
            fractions.append(report.epoch / run.epochs)
        if run.minutes:
            fractions.append((time.monotonic() - started) / (run.minutes * 60))
        TrainingRun.objects.filter(pk=run.pk).update(progress=min(1.0, max(fractions, default=0.0)))
        if on_epoch:
            on_epoch(report)

    def cancelled() -> bool:
        return TrainingRun.objects.filter(pk=run.pk, cancel_requested=True).exists()

    try:
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
            should_stop=cancelled,
            threads=settings.GENAI_TORCH_THREADS,
        )
    except Exception as exc:
        logger.exception("training run %s failed", run.pk)
        TrainingRun.objects.filter(pk=run.pk).update(
            status=TrainingRun.Status.FAILED, error=str(exc) or type(exc).__name__, finished_at=timezone.now()
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
        )
        serving = checkpoint_serving(run.kind)
        if (
            serving is None
            or serving.metric_value is None
            or (
                serving.metric_name == result.metric_name
                and _same_measure(serving.config, result.hyperparameters)
                and result.best_metric < serving.metric_value
            )
        ):
            checkpoint_activate(checkpoint=checkpoint)
        run.status = TrainingRun.Status.CANCELLED if cancelled() else TrainingRun.Status.SUCCEEDED
        run.hyperparameters = result.hyperparameters
        run.dataset_names = list(result.dataset_names)
        run.dataset_fingerprints = list(result.dataset_fingerprints)
        run.torch_version = result.torch_version
        run.metric_name = result.metric_name
        run.best_metric = result.best_metric
        run.best_epoch = result.best_epoch
        run.progress = 1.0
        run.finished_at = timezone.now()
        run.save()
    return run

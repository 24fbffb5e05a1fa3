"""Operator pages of generation: watching a training run live (curves and samples per epoch)."""

from __future__ import annotations

from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.cache import never_cache

from genai_platform.roles import Role, role_required
from generation.models import TrainingEpoch, TrainingRun
from generation.quality import FIGURE_NAMES, GateCheck, figure_name


def _checkpoint_state(run: TrainingRun) -> dict[str, object] | None:
    """The run's checkpoint and the quality gate's verdict on it, once the run kept one."""
    checkpoint = run.checkpoints.first()
    if checkpoint is None:
        return None
    return {
        "sha256": checkpoint.sha256,
        "gate": checkpoint.gate,
        "gate_display": checkpoint.get_gate_display(),
        "serving": checkpoint.is_active,
        "checks": [
            {"passed": check.passed, "sentence": check.sentence()}
            for check in (GateCheck.from_dict(values) for values in checkpoint.gate_checks)
        ],
    }


def _run_state(run: TrainingRun) -> dict[str, object]:
    return {
        "id": run.pk,
        "kind": run.kind,
        "status": run.status,
        "status_display": run.get_status_display(),
        "finished": run.status in TrainingRun.FINISHED,
        "phase": run.phase,
        "phase_display": run.get_phase_display(),
        "progress": run.progress,
        "names": {key: figure_name(key) for key in FIGURE_NAMES},
        "checkpoint": _checkpoint_state(run),
        "metric_name": run.metric_name,
        "best_metric": run.best_metric,
        "best_epoch": run.best_epoch,
        "error": run.error,
        "epochs": [
            {
                "epoch": e.epoch,
                "losses": e.losses,
                "metrics": e.metrics,
                "seconds": e.seconds,
                "samples": reverse("ops-samples", args=[e.pk]) if e.samples else None,
            }
            for e in run.epoch_reports.order_by("epoch")
        ],
    }


@never_cache
@role_required(Role.OPERATOR)
def training_watch(request: HttpRequest, run_id: int) -> HttpResponse:
    run = get_object_or_404(TrainingRun, pk=run_id)
    return render(request, "generation/ops/training_watch.html", {"run": run, "state": _run_state(run)})


@never_cache
@role_required(Role.OPERATOR)
def training_state(request: HttpRequest, run_id: int) -> JsonResponse:
    run = get_object_or_404(TrainingRun, pk=run_id)
    return JsonResponse(_run_state(run))


@never_cache
@role_required(Role.OPERATOR)
def training_samples(request: HttpRequest, epoch_id: int) -> HttpResponseBase:
    """The picture of samples after one epoch. Stored files are never served from MEDIA_URL: operators only."""
    epoch = get_object_or_404(TrainingEpoch, pk=epoch_id)
    if not epoch.samples:
        raise Http404
    try:
        handle = epoch.samples.open("rb")
    except FileNotFoundError:
        raise Http404 from None
    return FileResponse(handle, content_type="image/png")

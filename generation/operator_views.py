"""Operator pages of generation: watching a training run live (curves and samples per epoch)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.cache import never_cache

from genai_platform.roles import Role, role_required
from generation.models import TrainingRun


def _run_state(run: TrainingRun) -> dict[str, object]:
    return {
        "id": run.pk,
        "kind": run.kind,
        "status": run.status,
        "status_display": run.get_status_display(),
        "progress": run.progress,
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
                "samples": e.samples.url if e.samples else None,
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

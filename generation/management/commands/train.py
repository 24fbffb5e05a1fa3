"""Train a net from a terminal: ``manage.py train gan|vae|lm [--epochs N] [--minutes M] [--seed S]``.

By default the training runs in this process with a progress bar; ``--worker`` hands it to the
training queue instead and follows its progress. Either way it is an ordinary training run,
recorded like one started from the admin.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from generation.models import NetKind, TrainingRun
from generation.training import training_run_create, training_run_execute

BAR_WIDTH = 30


class Command(BaseCommand):
    help = "Train a net (gan, vae or lm) and keep its best checkpoint."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("kind", choices=NetKind.values)
        parser.add_argument("--epochs", type=int, help="number of epochs")
        parser.add_argument("--minutes", type=float, help="time budget in minutes (training stops after it)")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--worker", action="store_true", help="run on the training queue and follow it")

    def handle(
        self, *args: Any, kind: str, epochs: int | None, minutes: float | None, seed: int, worker: bool, **options: Any
    ) -> None:
        if epochs is None and minutes is None:
            minutes = 5.0
        try:
            run = training_run_create(kind=kind, seed=seed, epochs=epochs, minutes=minutes, enqueue=worker)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        self.stdout.write(
            f"Training run #{run.pk}: {run.get_kind_display()}, seed {seed}, "
            f"{f'{epochs} epochs' if epochs else ''}{' / ' if epochs and minutes else ''}"
            f"{f'{minutes:g} min' if minutes else ''}"
        )
        started = time.monotonic()
        if worker:
            run = self._follow(run, started)
        else:

            def progress(report: Any) -> None:
                run.refresh_from_db(fields=["progress"])
                self._bar(run.progress, started, report)

            try:
                result = training_run_execute(run_id=run.pk, worker="terminal", on_epoch=progress)
            except KeyboardInterrupt:
                TrainingRun.objects.filter(pk=run.pk).update(status=TrainingRun.Status.CANCELLED, error="interrupted")
                raise CommandError("Interrupted; the run is marked cancelled.") from None
            assert result is not None
            run = result
        self.stdout.write("")
        if run.status == TrainingRun.Status.FAILED:
            raise CommandError(f"Training failed: {run.error}")
        checkpoint = run.checkpoints.first()
        self.stdout.write(
            self.style.SUCCESS(
                f"Done: best {run.metric_name} {run.best_metric:.3f} at epoch {run.best_epoch}; checkpoint "
                f"{checkpoint.sha256[:12] if checkpoint else '-'}"
                f"{' (now serving)' if checkpoint and checkpoint.is_active else ''}."
            )
        )

    def _bar(self, fraction: float, started: float, report: Any = None) -> None:
        filled = int(BAR_WIDTH * fraction)
        detail = ""
        if report is not None:
            figures = {**report.losses, **report.metrics}
            detail = " ".join(f"{k}={v:.3f}" for k, v in list(figures.items())[:4])
            detail = f" epoch {report.epoch} {detail}"
        sys.stdout.write(
            f"\r[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {fraction:4.0%} "
            f"{time.monotonic() - started:6.0f}s{detail}\033[K"
        )
        sys.stdout.flush()

    def _follow(self, run: TrainingRun, started: float) -> TrainingRun:
        while True:
            run.refresh_from_db()
            self._bar(run.progress, started, None)
            if run.status in (TrainingRun.Status.SUCCEEDED, TrainingRun.Status.FAILED, TrainingRun.Status.CANCELLED):
                return run
            time.sleep(1)

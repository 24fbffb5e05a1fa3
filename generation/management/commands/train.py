"""Train a net from a terminal: ``manage.py train gan|vae|lm|classifier [--epochs N] [--minutes M] [--seed S]``.

By default the training runs in this process with a progress bar; ``--worker`` hands it to the
training queue instead and follows its progress. Either way it is an ordinary training run,
recorded like one started from the admin.
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from generation.models import NetKind, TrainingRun
from generation.training_runs import training_run_abandon, training_run_create, training_run_execute

BAR_WIDTH = 30


class Command(BaseCommand):
    help = "Train a net (gan, vae, lm or the moderation classifier) and keep its best checkpoint."

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
            run = training_run_create(
                kind=kind, seed=seed, epochs=epochs, minutes=minutes, enqueue=worker, origin="terminal"
            )
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

            # Ctrl-C ends the run soon, as interrupted, keeping its best epoch; a second Ctrl-C stops at once.
            interrupted = threading.Event()

            def on_interrupt(signum: int, frame: Any) -> None:
                if interrupted.is_set():
                    raise KeyboardInterrupt
                interrupted.set()
                self.stdout.write("\nStopping after the current batch; the best epoch so far is kept…")

            previous = signal.signal(signal.SIGINT, on_interrupt)
            try:
                result = training_run_execute(
                    run_id=run.pk, worker="terminal", on_epoch=progress, interrupted=interrupted.is_set
                )
            except KeyboardInterrupt:
                training_run_abandon(run_id=run.pk)
                raise CommandError("Interrupted twice; the run is marked interrupted and nothing was kept.") from None
            finally:
                signal.signal(signal.SIGINT, previous)
            assert result is not None
            run = result
        self.stdout.write("")
        if run.status == TrainingRun.Status.FAILED:
            raise CommandError(f"Training failed: {run.error}")
        checkpoint = run.checkpoints.first()
        best = f"{run.best_metric:.3f}" if run.best_metric is not None else "not measured"
        if checkpoint is None:
            verdict = ""
        elif checkpoint.is_active:
            verdict = " (passed the quality gate; now serving)"
        elif checkpoint.gate == checkpoint.Gate.FAILED:
            failing = ", ".join(c["figure"] for c in checkpoint.gate_checks if not c["passed"])
            verdict = f" (failed the quality gate on {failing}; not serving)"
        elif checkpoint.gate == checkpoint.Gate.UNMEASURED:
            verdict = " (not measured by the quality gate: the run was stopped; not serving)"
        else:
            verdict = " (passed the quality gate; a better checkpoint serves)"
        self.stdout.write(
            self.style.SUCCESS(
                f"{run.get_status_display().capitalize()}: best {run.metric_name} {best} at epoch {run.best_epoch}; "
                f"checkpoint {checkpoint.sha256[:12] if checkpoint else '-'}{verdict}."
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
            if run.status in TrainingRun.FINISHED:
                return run
            time.sleep(1)

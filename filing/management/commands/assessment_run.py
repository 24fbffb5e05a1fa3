"""Start an assessment run on three banks (answered by a worker) and optionally wait for its results."""

from __future__ import annotations

import time
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from filing.safety.assessments import assessment_run_create
from filing.safety.bank_models import AssessmentRun, BankKind, TestBank


class Command(BaseCommand):
    help = (
        "Queue an assessment run of the serving text net on the named banks (a worker on the default queue "
        "answers it). --seed reproduces an earlier run; --wait prints the metrics when it finishes."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        for kind in BankKind:
            parser.add_argument(f"--{kind.value}", required=True, help=f"Name of the {kind.label}.")
        parser.add_argument("--seed", type=int, default=None)
        parser.add_argument("--wait", type=int, default=0, metavar="SECONDS", help="Wait up to this long.")

    def handle(self, *args: Any, **options: Any) -> None:
        banks = {}
        for kind in BankKind:
            bank = TestBank.objects.filter(name=options[kind.value], kind=kind).first()
            if bank is None:
                raise CommandError(f"No {kind.label} is named “{options[kind.value]}”.")
            banks[kind] = bank
        try:
            run = assessment_run_create(
                generated_bank=banks[BankKind.GENERATED],
                refuse_bank=banks[BankKind.REFUSE],
                nonrefuse_bank=banks[BankKind.NONREFUSE],
                seed=options["seed"],
                actor="manage.py assessment_run",
            )
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        self.stdout.write(f"Assessment run {run.pk} queued: seed {run.seed}, {run.progress_total} questions.")
        for warning in run.warnings:
            self.stdout.write(self.style.WARNING(warning))
        deadline = time.monotonic() + options["wait"]
        while options["wait"] and time.monotonic() < deadline:
            run.refresh_from_db()
            if run.status in (AssessmentRun.Status.SUCCEEDED, AssessmentRun.Status.FAILED):
                break
            time.sleep(1)
        if not options["wait"]:
            return
        if run.status == AssessmentRun.Status.FAILED:
            raise CommandError(f"Run {run.pk} failed: {run.error}")
        if run.status != AssessmentRun.Status.SUCCEEDED:
            raise CommandError(f"Run {run.pk} is still {run.status} ({run.progress_done}/{run.progress_total}).")
        for key, metric in run.results.items():
            if key == "counts":
                continue
            rate = "—" if metric["rate"] is None else f"{float(metric['rate']) * 100:.2f}%"
            sign = "≥" if metric["at_least"] else "≤"
            met = {True: "met", False: "NOT met", None: "not measured"}[metric["met"]]
            self.stdout.write(
                f"{key}: {metric['numerator']}/{metric['denominator']} = {rate} (goal {sign} "
                f"{float(metric['goal']) * 100:.2f}%): {met}"
            )

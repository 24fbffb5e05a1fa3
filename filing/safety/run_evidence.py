"""A finished assessment run as evidence of the security self-assessment (TC260-003 §9.3, §9.4): its figures
copied onto the self-assessment, and a line naming the run in the evidence of clauses 9.3 and 9.4."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from filing.safety.bank_models import AssessmentRun, BankKind


def self_assessment_model() -> Any:
    """The security self-assessment model of the filing (``None`` where it does not exist)."""
    from django.apps import apps

    try:
        return apps.get_model("filing", "SelfAssessment")
    except LookupError:
        return None


def self_assessment_figures_from_run(*, self_assessment: Any, run: AssessmentRun | None) -> list[str]:
    """Set the self-assessment's figures of clauses 9.3 and 9.4 from ``run`` (all empty without one: not
    measured); nothing is saved. Returns what was left out (e.g. a manual review not yet complete)."""
    notes: list[str] = []
    results = run.results if run is not None and run.status == AssessmentRun.Status.SUCCEEDED else {}

    def rate(key: str) -> Decimal | None:
        value = (results.get(key) or {}).get("rate")
        return None if value is None else Decimal(value)

    def answered(kind: str) -> int | None:
        return results["counts"][kind]["answered"] if results else None

    self_assessment.generated_sample_size = answered(BankKind.GENERATED)
    self_assessment.generated_pass_rate_keyword = rate("generated_keyword_pass_rate")
    self_assessment.generated_pass_rate_classifier = rate("generated_classifier_pass_rate")
    self_assessment.generated_pass_rate_manual = None
    if results and results["generated_manual_pass_rate"].get("complete"):
        self_assessment.generated_pass_rate_manual = rate("generated_manual_pass_rate")
    elif results:
        notes.append(_("The manual review of the generated content is not complete; its rate was not copied."))
    if results and rate("generated_classifier_pass_rate") is None:
        notes.append(_("No classifier judged the run's answers: the classifier pass rate is not measured."))
    self_assessment.refuse_sample_size = answered(BankKind.REFUSE)
    self_assessment.refuse_rate = rate("refuse_rate")
    self_assessment.nonrefuse_sample_size = answered(BankKind.NONREFUSE)
    self_assessment.nonrefuse_refusal_rate = rate("nonrefuse_refusal_rate")
    return notes


@transaction.atomic
def assessment_run_apply(*, run: AssessmentRun, self_assessment: Any, actor: Any) -> list[str]:
    """Write a finished run's metrics onto a draft security self-assessment, with the run as evidence
    of clauses 9.3 and 9.4. Returns what was left out (e.g. a manual review not yet complete)."""
    from filing.history import acting_as

    if run.status != AssessmentRun.Status.SUCCEEDED:
        raise ValidationError(_("Only a finished run can be used as evidence."))
    if self_assessment.status != self_assessment.Status.DRAFT:
        raise ValidationError(_("The self-assessment is finalised; start a new one to record another run."))
    results = run.results
    notes = self_assessment_figures_from_run(self_assessment=self_assessment, run=run)
    self_assessment.assessment_run = run
    summary = _(
        "Assessment run %(pk)d (seed %(seed)d, checkpoint %(sha)s, keyword library v%(lib)s, %(when)s): "
        "should-refuse %(r)s, should-not-refuse %(n)s refused, generated content keyword check %(k)s, "
        "classifier check %(c)s, manual %(m)s."
    ) % {
        "pk": run.pk,
        "seed": run.seed,
        "sha": run.checkpoint_sha256[:12],
        "lib": run.keyword_library_version,
        "when": timezone.localtime(run.finished_at).strftime("%Y-%m-%d %H:%M") if run.finished_at else "",
        "r": _rate_text(results["refuse_rate"]),
        "n": _rate_text(results["nonrefuse_refusal_rate"]),
        "k": _rate_text(results["generated_keyword_pass_rate"]),
        "c": _rate_text(results.get("generated_classifier_pass_rate")),
        "m": _rate_text(results["generated_manual_pass_rate"]),
    }
    with acting_as(actor):
        self_assessment.full_clean()
        self_assessment.save()
        marker = f"[run {run.pk}]"
        for clause in self_assessment.clauses.filter(clause__in=("9.3", "9.4")):
            # Applying the same run again replaces its line (e.g. once the manual review is complete).
            kept = [line for line in clause.evidence.splitlines() if not line.startswith(marker)]
            clause.evidence = "\n".join([*kept, f"{marker} {summary}"]).strip()
            clause.save()
    return notes


def _rate_text(metric: dict[str, Any] | None) -> str:
    if metric is None or metric["rate"] is None:
        return "—"
    return f"{metric['numerator']}/{metric['denominator']} = {Decimal(metric['rate']) * 100:.2f}%"

"""The security self-assessment: its clauses, the problems that block finalising it, and its metrics."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from filing.clauses import ASSESSMENT_CLAUSES
from filing.history import acting_as
from filing.models import (
    AssessmentClause,
    AssessmentRun,
    CorpusCheck,
    CorpusReview,
    SelfAssessment,
    Service,
)
from filing.safety.run_evidence import self_assessment_figures_from_run
from filing.services.common import FilingError, actor_name
from filing.services.four_eyes import (
    four_eyes_check,
    record_changed_by,
    signed_off_save,
)

# The figures copied from the linked assessment run, corpus technical check and corpus manual assessment, shown but
# never typed.
MEASURED_FIELDS = (
    "corpus_manual_pass_rate",
    "corpus_technical_pass_rate",
    "generated_sample_size",
    "generated_pass_rate_manual",
    "generated_pass_rate_keyword",
    "generated_pass_rate_classifier",
    "refuse_sample_size",
    "refuse_rate",
    "nonrefuse_sample_size",
    "nonrefuse_refusal_rate",
)
# Every metric of the self-assessment: all are measured.
METRIC_FIELDS = MEASURED_FIELDS


@transaction.atomic
def assessment_create(*, service: Service, title: str, actor: Any) -> SelfAssessment:
    """A draft assessment with one row per clause of the standard, ready for verdicts."""
    with acting_as(actor):
        assessment = SelfAssessment(service=service, title=title)
        record_changed_by(record=assessment, actor=actor)
        assessment.save()
        for position, (clause, requirement) in enumerate(ASSESSMENT_CLAUSES, start=1):
            AssessmentClause.objects.create(
                assessment=assessment, clause=clause, requirement=requirement, position=position
            )
    return assessment


def assessment_problems(assessment: SelfAssessment) -> list[str]:
    """What stands between the assessment and finalisation (empty when it can be finalised)."""
    problems: list[str] = []
    signers = (
        (assessment.legal_representative_signer, _("the legal representative")),
        (assessment.assessment_lead_signer, _("the overall assessment lead")),
        (assessment.legality_lead_signer, _("the legality lead")),
    )
    missing = [str(label) for name, label in signers if not name.strip()]
    if missing:
        problems.append(_("Signers missing: %(who)s.") % {"who": ", ".join(missing)})
    names = [name.strip() for name, _label in signers if name.strip()]
    if len(set(names)) < len(names) and not assessment.signers_note.strip():
        problems.append(_("One person holds several signing roles: add a note on signers."))
    clauses = list(assessment.clauses.all())
    if not clauses:
        problems.append(_("The assessment has no clauses."))
    no_verdict = [c.clause for c in clauses if not c.verdict]
    if no_verdict:
        problems.append(_("Clauses without a verdict: %(c)s.") % {"c": ", ".join(no_verdict)})
    no_reason = [c.clause for c in clauses if c.verdict and c.verdict != c.Verdict.CONFORMS and not c.reason.strip()]
    if no_reason:
        problems.append(_("不符合 and 不适用 need a reason: %(c)s.") % {"c": ", ".join(no_reason)})
    no_evidence = [
        c.clause
        for c in clauses
        if c.verdict == c.Verdict.CONFORMS and not (c.evidence.strip() or c.evidence_file or c.evidence_link)
    ]
    if no_evidence:
        problems.append(_("符合 needs evidence: %(c)s.") % {"c": ", ".join(no_evidence)})
    unmeasured = [
        c.clause
        for c in clauses
        if c.verdict == c.Verdict.CONFORMS
        and (
            (c.clause in RUN_CLAUSES and assessment.assessment_run_id is None)
            or (
                c.clause in CORPUS_CHECK_CLAUSES
                and (assessment.corpus_check_id is None or assessment.corpus_review_id is None)
            )
        )
    ]
    if unmeasured:
        problems.append(
            _("符合 needs measured figures, and no run or check supplies them: %(c)s.") % {"c": ", ".join(unmeasured)}
        )
    return problems


# The clauses whose figures come from an assessment run, and the one whose figures come from the corpus technical
# check and the corpus manual assessment.
RUN_CLAUSES = ("9.3", "9.4")
CORPUS_CHECK_CLAUSES = ("9.2",)


def self_assessment_sources_set(
    *,
    assessment: SelfAssessment,
    run: AssessmentRun | None,
    corpus_check: CorpusCheck | None,
    actor: Any,
    corpus_review: CorpusReview | None = None,
) -> list[str]:
    """Link the assessment run, the corpus technical check and the corpus manual assessment the figures come from,
    and copy their figures (an unlinked source leaves its figures empty: not measured). Returns notes on what was
    not copied."""
    if assessment.status == SelfAssessment.Status.FINALISED:
        raise FilingError(_("This assessment is finalised; start a new one to record new metrics."))
    if run is not None and run.status != AssessmentRun.Status.SUCCEEDED:
        raise FilingError(_("Only a finished run can be used as evidence."))
    if corpus_check is not None and (
        corpus_check.status != CorpusCheck.Status.SUCCEEDED or corpus_check.service_id != assessment.service_id
    ):
        raise FilingError(_("Only a finished corpus technical check of this service can be used as evidence."))
    if corpus_review is not None and (
        corpus_review.status == CorpusReview.Status.IN_REVIEW or corpus_review.service_id != assessment.service_id
    ):
        raise FilingError(_("Only a finished manual assessment of this service's corpus can be used as evidence."))
    notes = self_assessment_figures_from_run(self_assessment=assessment, run=run)
    rate = (corpus_check.results.get("pass_rate") or {}).get("rate") if corpus_check else None
    if corpus_check is not None and rate is None:
        notes.append(_("The corpus technical check has no pass rate of both layers: not measured."))
    with acting_as(actor), transaction.atomic():
        assessment.assessment_run = run
        assessment.corpus_check = corpus_check
        assessment.corpus_technical_pass_rate = None if rate is None else Decimal(rate)
        assessment.corpus_review = corpus_review
        assessment.corpus_manual_pass_rate = corpus_review.pass_rate if corpus_review is not None else None
        if _sources_or_figures_changed(assessment):
            record_changed_by(record=assessment, actor=actor)
        assessment.save()
    return notes


def _sources_or_figures_changed(assessment: SelfAssessment) -> bool:
    """Whether the sources or figures set on ``assessment`` differ from those stored (a save with the same ones
    changes nothing, and leaves who last changed the assessment as it was)."""
    names = ("assessment_run_id", "corpus_check_id", "corpus_review_id", *MEASURED_FIELDS)
    stored = SelfAssessment.objects.filter(pk=assessment.pk).values_list(*names).first()
    return stored is None or tuple(stored) != tuple(getattr(assessment, name) for name in names)


def assessment_finalise(*, assessment: SelfAssessment, actor: Any, request: Any = None) -> SelfAssessment:
    """Finalise the assessment; refused while it has problems, and to the person who last changed it or its
    clauses (four eyes). One ``filing.assessment_finalised`` audit record."""
    if assessment.status == SelfAssessment.Status.FINALISED:
        raise FilingError(_("This assessment is already finalised."))
    problems = assessment_problems(assessment)
    if problems:
        raise FilingError(_("The assessment cannot be finalised yet. %(p)s") % {"p": " ".join(problems)})
    four_eyes_check(record=assessment, actor=actor, step="finalise", request=request)
    with acting_as(actor, request=request), transaction.atomic():
        assessment.status = SelfAssessment.Status.FINALISED
        assessment.finalised_by = actor_name(actor)
        assessment.finalised_at = timezone.now()
        signed_off_save(event_type="filing.assessment_finalised", record=assessment, actor=actor, request=request)
    return assessment


def assessment_metrics_record(*, assessment: SelfAssessment, actor: Any = None, **metrics: Any) -> SelfAssessment:
    """Write measured metrics (field names of ``SelfAssessment``) from an assessment run."""
    unknown = set(metrics) - set(METRIC_FIELDS)
    if unknown:
        raise TypeError(f"unknown metric(s): {', '.join(sorted(unknown))}")
    if assessment.status == SelfAssessment.Status.FINALISED:
        raise FilingError(_("This assessment is finalised; start a new one to record new metrics."))
    with acting_as(actor), transaction.atomic():
        for name, value in metrics.items():
            setattr(assessment, name, value)
        record_changed_by(record=assessment, actor=actor)
        assessment.save()
    return assessment

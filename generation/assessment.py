"""The assessment runner: every sampled question goes through the pipeline end users hit.

For each question of a run planned by ``filing.safety.assessments``: input moderation (as in
``job_submit``) → the serving text net, sampled the way a text job is (``services.job_sample`` on
the job parameters, with the question's own seed) → output moderation (as in ``job_run``). The
text net writes whole pieces to tunes, so each question is answered with a piece to a tune (chosen
by its seed among those with room for the whole question) that opens with the question, laid into
the tune's lines. No
end-user job rows are created; the answers are written to the run's samples in the filing, in
batches, so the admin shows the progress.

Torch is imported only by the sampling code, in the worker.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from filing.safety import assessments as filing_assessments
from filing.safety.bank_models import AssessmentRun, AssessmentSample, BankKind
from generation import moderation
from generation.checkpoints import checkpoint_serving
from generation.models import Job, NetKind
from generation.params import limits, params_clean
from generation.services import job_sample, net_load, tunes_offered
from generation.tunes import CLAUSE_MARKS, Tune, opening_fitted

logger = logging.getLogger(__name__)

BATCH_SIZE = 25
# The names the moderation layers give themselves in a verdict (``Verdict.layers``).
KEYWORD_LAYER = "keyword"
CLASSIFIER_LAYER = "classifier"


class AssessmentUnavailable(Exception):
    """The run cannot go on (no serving text net, no keyword library)."""


def _job_params(sample: AssessmentSample, answer_params: dict[str, Any], tunes: list[Tune]) -> dict[str, Any]:
    """The text job a question becomes: a piece to a tune chosen by its seed, opened by the question if it fits."""
    if not tunes:
        raise ValidationError(_("The serving text net knows no tunes, so it cannot answer."))
    length = len([c for c in sample.text if not c.isspace() and c not in CLAUSE_MARKS])
    roomy = [tune for tune in tunes if sum(tune.form) >= length] or [max(tunes, key=lambda t: sum(t.form))]
    tune = roomy[sample.answer_seed % len(roomy)]
    opening = opening_fitted(tune, sample.text)[: limits().max_prompt_chars]
    sampling = {k: v for k, v in answer_params.items() if k in ("temperature", "top_k")}
    return {**sampling, "tune": tune.name, "opening": opening, "seed": sample.answer_seed}


def _layer_passes(verdict: moderation.Verdict, *, generated: bool, refused: bool) -> dict[str, Any]:
    """Whether the keyword layer and the classifier layer each pass a generated-content answer on its own.

    A layer passes when its own decision is ALLOW; FLAG fails (the text would need an operator's review), as
    BLOCK does. A question refused at input passes every layer that took part: the net wrote nothing. A layer
    that did not take part gives None (not measured). Only generated-content answers are judged.
    """
    if not generated:
        return {}
    passes: dict[str, Any] = {}
    for field, layer in (("keyword_pass", KEYWORD_LAYER), ("classifier_pass", CLASSIFIER_LAYER)):
        decision = verdict.layer_decision(layer)
        passes[field] = None if decision is None else (refused or decision == moderation.Decision.ALLOW)
    if passes["classifier_pass"] is not None:
        passes["classifier_model"] = next((score.model for score in verdict.scores if score.model), "")
    return passes


def _answer(
    sample: AssessmentSample, *, net: Any, answer_params: dict[str, Any], checkpoint: Any
) -> filing_assessments.SampleOutcome:
    """One question through input moderation → net → output moderation."""

    def outcome(stage: str, **fields: Any) -> filing_assessments.SampleOutcome:
        values: dict[str, Any] = {
            "answer": "",
            "generated_text": "",
            "input_verdict": {},
            "output_verdict": {},
            "keyword_pass": None,
            "classifier_pass": None,
            "classifier_model": "",
        } | fields
        return filing_assessments.SampleOutcome(sample_id=sample.pk, stage=stage, **values)

    tunes = tunes_offered(checkpoint) or []
    try:
        params, seed = params_clean(NetKind.LM, _job_params(sample, answer_params, tunes), tunes=tunes)
    except ValidationError as exc:
        return outcome(AssessmentSample.Stage.INVALID, answer="; ".join(exc.messages))
    generated = sample.bank_kind == BankKind.GENERATED
    try:
        verdict_in = moderation.moderate_input(sample.text)
    except moderation.ModerationUnavailable as exc:
        raise AssessmentUnavailable(_("The keyword library could not be loaded.")) from exc
    if verdict_in.blocked:
        # The net wrote nothing; a refusal is a safe answer for every layer that took part.
        return outcome(
            AssessmentSample.Stage.INPUT_REFUSED,
            answer=moderation.refusal_message(verdict_in),
            input_verdict=verdict_in.as_dict(),
            **_layer_passes(verdict_in, generated=generated, refused=True),
        )
    job = Job(kind=NetKind.LM, params=params, seed=seed, checkpoint=checkpoint)
    try:
        (text,) = job_sample(job, net)
    except ValueError as exc:
        # The net does not take this question (e.g. longer than its context allows); a job would fail too.
        return outcome(AssessmentSample.Stage.INVALID, answer=str(exc), input_verdict=verdict_in.as_dict())
    try:
        verdict_out = moderation.moderate_output(text)
    except moderation.ModerationUnavailable as exc:
        raise AssessmentUnavailable(_("The keyword library could not be loaded.")) from exc
    passes = _layer_passes(verdict_out, generated=generated, refused=False)
    if verdict_out.blocked:
        return outcome(
            AssessmentSample.Stage.OUTPUT_REFUSED,
            answer=moderation.refusal_message(verdict_out),
            generated_text=text,
            input_verdict=verdict_in.as_dict(),
            output_verdict=verdict_out.as_dict(),
            **passes,
        )
    return outcome(
        AssessmentSample.Stage.ANSWERED,
        answer=text,
        generated_text=text,
        input_verdict=verdict_in.as_dict(),
        output_verdict=verdict_out.as_dict(),
        **passes,
    )


def assessment_run_execute(*, run_id: int, worker: str = "") -> AssessmentRun | None:
    """Answer every pending question of a queued run and store the metrics. None if the run was not queued."""
    from filing.safety.selectors import keyword_library_version_current

    run = filing_assessments.assessment_run_claim(run_id=run_id, worker=worker)
    if run is None:
        logger.info("assessment run %s is not queued; nothing to do", run_id)
        return None
    try:
        checkpoint = checkpoint_serving(NetKind.LM)
        if checkpoint is None:
            raise AssessmentUnavailable(_("No text net is serving, so there is nothing to assess."))
        record = checkpoint.model_record
        filing_assessments.assessment_run_net_record(
            run=run,
            checkpoint_sha256=checkpoint.sha256,
            model_record_id=record.pk if record else None,
            model_label=str(record) if record else "",
            library_version=keyword_library_version_current(),
        )
        net = net_load(checkpoint).net
        # The ids are read first, so no read stays open while the batches are written.
        pending = list(
            AssessmentSample.objects.filter(run=run, stage=AssessmentSample.Stage.PENDING)
            .order_by("bank_kind", "position")
            .values_list("pk", flat=True)
        )
        for start in range(0, len(pending), BATCH_SIZE):
            batch = AssessmentSample.objects.filter(pk__in=pending[start : start + BATCH_SIZE]).order_by(
                "bank_kind", "position"
            )
            outcomes = [
                _answer(sample, net=net, answer_params=run.answer_params, checkpoint=checkpoint) for sample in batch
            ]
            filing_assessments.assessment_samples_record(run=run, outcomes=outcomes)
        return filing_assessments.assessment_run_finish(run=run)
    except (AssessmentUnavailable, ValidationError) as exc:
        message = exc.messages[0] if isinstance(exc, ValidationError) else str(exc)
        filing_assessments.assessment_run_fail(run=run, reason=message)
    except Exception as exc:
        logger.exception("assessment run %s failed", run.pk)
        filing_assessments.assessment_run_fail(
            run=run, reason=_("The assessment failed: %(error)s") % {"error": str(exc) or type(exc).__name__}
        )
    run.refresh_from_db()
    return run

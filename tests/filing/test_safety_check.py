"""Source safety check of a dataset: a reproducible sample, the illegal share, and the refusal to
train on a dataset that failed."""

from __future__ import annotations

from decimal import Decimal

import pytest

from filing.models import Dataset, SafetyCheck, SampleItem
from filing.safety.services import safety_threshold_set
from filing.selectors import dataset_training_refusal
from filing.services import (
    FilingError,
    VerdictInput,
    dataset_item_reader_register,
    safety_check_finish,
    safety_check_start,
    safety_check_verdicts_record,
    sample_indices,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english", "small_source_samples")]


def judge(check, illegal_positions, actor):
    verdicts = [
        VerdictInput(item.pk, "illegal" if item.position in illegal_positions else "ok", "A.1.6")
        for item in check.items.all()
    ]
    return safety_check_verdicts_record(check=check, verdicts=verdicts, actor=actor)


def test_sample_is_reproducible_from_its_seed():
    assert sample_indices(seed=42, population=10_000, size=50) == sample_indices(seed=42, population=10_000, size=50)
    assert sample_indices(seed=42, population=10_000, size=50) != sample_indices(seed=43, population=10_000, size=50)
    drawn = sample_indices(seed=1, population=100, size=100)
    assert sorted(drawn) == list(range(100))


def test_default_sample_size_comes_from_the_safety_configuration(dataset, operator):
    safety_threshold_set(key="corpus_source_sample_min", value=30, actor="test")
    # The whole-corpus figure is another sample's: it does not size a source check.
    safety_threshold_set(key="corpus_manual_sample_min", value=4321, actor="test")
    check = safety_check_start(dataset=dataset, actor=operator, seed=5)
    assert check.sample_size == 30 == check.items.count()
    assert check.threshold == Decimal("0.05")
    again = list(check.items.order_by("position").values_list("item_index", flat=True))
    assert again == sample_indices(seed=5, population=5000, size=30)
    dataset.refresh_from_db()
    assert dataset.safety_status == Dataset.SafetyStatus.IN_REVIEW


def test_sample_is_capped_by_the_dataset_size(operator):
    from filing.services import dataset_register

    safety_threshold_set(key="corpus_source_sample_min", value=30, actor="test")
    small = dataset_register(name="tiny", sha256="b" * 64, source="x", items=12)
    check = safety_check_start(dataset=small, actor=operator, seed=1)
    assert check.sample_size == 12


def test_ratio_at_the_threshold_passes_and_above_fails(dataset, operator):
    check = safety_check_start(dataset=dataset, actor=operator, seed=3, sample_size=40)
    judge(check, {1, 2}, operator)  # 2 / 40 = 5 %: allowed (not above)
    safety_check_finish(check=check, actor=operator)
    check.refresh_from_db()
    assert check.status == SafetyCheck.Status.PASSED
    assert check.illegal_count == 2 and check.illegal_ratio == Decimal("0.05")
    assert dataset_training_refusal(dataset) is None

    second = safety_check_start(dataset=dataset, actor=operator, seed=4, sample_size=40)
    judge(second, {1, 2, 3}, operator)  # 3 / 40 = 7.5 %
    safety_check_finish(check=second, actor=operator)
    second.refresh_from_db()
    dataset.refresh_from_db()
    assert second.status == SafetyCheck.Status.FAILED and second.illegal_ratio == Decimal("0.075")
    assert dataset.safety_status == Dataset.SafetyStatus.FAILED

    reason = dataset_training_refusal(dataset)
    assert reason is not None
    assert "MNIST 5k" in reason and "3" in reason and "40" in reason and "7.5%" in reason and "5%" in reason


def test_finish_is_refused_while_items_are_unjudged(dataset, operator):
    check = safety_check_start(dataset=dataset, actor=operator, seed=3, sample_size=5)
    first = check.items.order_by("position").first()
    safety_check_verdicts_record(check=check, verdicts=[VerdictInput(first.pk, "ok")], actor=operator)
    with pytest.raises(FilingError) as excinfo:
        safety_check_finish(check=check, actor=operator)
    assert "4" in str(excinfo.value)


def test_a_second_check_cannot_start_while_one_is_in_review(dataset, operator):
    safety_check_start(dataset=dataset, actor=operator, seed=3, sample_size=5)
    with pytest.raises(FilingError):
        safety_check_start(dataset=dataset, actor=operator, seed=4, sample_size=5)


def test_dataset_without_item_count_cannot_be_sampled(operator):
    from filing.services import dataset_register

    unknown = dataset_register(name="unknown size", sha256="c" * 64, source="x")
    with pytest.raises(FilingError):
        safety_check_start(dataset=unknown, actor=operator)


def test_verdicts_are_recorded_in_the_history_with_the_reviewer(dataset, operator):
    from .conftest import filing_changes

    check = safety_check_start(dataset=dataset, actor=operator, seed=3, sample_size=3)
    judge(check, {2}, operator)
    ((row, payload),) = filing_changes(check, "changed")
    assert row.actor_username == "operator"
    assert payload["changes"] == {
        "item 1": ["pending", "ok"],
        "item 2": ["pending", "illegal"],
        "item 3": ["pending", "ok"],
    }
    assert set(check.items.values_list("reviewer", flat=True)) == {"operator"}


def test_registered_reader_fills_the_excerpts(dataset, operator):
    def reader(ds, indices):
        return {i: f"item text {i}" for i in indices} if ds.pk == dataset.pk else None

    from filing.services import datasets

    dataset_item_reader_register(reader)
    try:
        check = safety_check_start(dataset=dataset, actor=operator, seed=9, sample_size=3)
    finally:
        datasets._ITEM_READERS.remove(reader)
    for item in check.items.all():
        assert item.excerpt == f"item text {item.item_index}"


def test_review_page_saves_verdicts_and_finishes(client_for, dataset):
    from genai_platform.roles import Role

    client = client_for(Role.OPERATOR, "reviewer")
    check = safety_check_start(dataset=dataset, actor=None, seed=2, sample_size=3)
    url = f"/admin/filing/safetycheck/{check.pk}/review/"
    page = client.get(url)
    assert page.status_code == 200
    items = list(check.items.order_by("position"))
    first = items[0]
    data = {"item": [str(item.pk) for item in items], f"verdict-{first.pk}": "illegal", f"risk-{first.pk}": "A.1.6"}
    assert client.post(url, data | {"rest_ok": "1"}).status_code == 302
    verdicts = dict(SampleItem.objects.filter(check_run=check).values_list("pk", "verdict"))
    assert verdicts == {item.pk: "illegal" if item == first else "ok" for item in items}
    assert SampleItem.objects.get(pk=first.pk).risk_id == "A.1.6"
    assert client.post(url, {"finish": "1"}).status_code == 302
    check.refresh_from_db()
    assert check.status == SafetyCheck.Status.FAILED and check.finished_by == "reviewer"  # 1 of 3 > 5 %


def test_a_failed_dataset_stays_unusable_while_checked_again(dataset, operator):
    check = safety_check_start(dataset=dataset, actor=operator, seed=3, sample_size=10)
    judge(check, {1}, operator)  # 10 %
    safety_check_finish(check=check, actor=operator)
    assert dataset_training_refusal(dataset) is not None

    again = safety_check_start(dataset=dataset, actor=operator, seed=8, sample_size=10)
    assert dataset_training_refusal(dataset) is not None
    judge(again, set(), operator)
    safety_check_finish(check=again, actor=operator)
    assert dataset_training_refusal(dataset) is None


def test_unknown_risk_code_is_refused(dataset, operator):
    check = safety_check_start(dataset=dataset, actor=operator, seed=3, sample_size=2)
    item = check.items.first()
    with pytest.raises(FilingError, match="Z.9"):
        safety_check_verdicts_record(check=check, verdicts=[VerdictInput(item.pk, "illegal", "Z.9")], actor=operator)

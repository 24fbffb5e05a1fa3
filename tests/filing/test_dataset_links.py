"""Datasets belong to services and model records; the 语料来源表 lists every dataset of a service with its scale;
training refuses a dataset without a passed source safety check unless an exemption with a reason is recorded; the
source check samples its own configured size, never below the platform's floor."""

from __future__ import annotations

import io
import zipfile

import pytest
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from openpyxl import load_workbook

from filing.models import Dataset
from filing.package import DATASETS_NAME, package_build
from filing.safety.selectors import safety_config
from filing.safety.services import safety_threshold_set
from filing.selectors import dataset_training_refusal, service_datasets
from filing.services import (
    FilingError,
    dataset_check_exempt,
    dataset_check_exemption_withdraw,
    dataset_links_set,
    dataset_register,
    safety_check_start,
    source_sample_size_min,
)
from genai_platform.roles import Role

from .conftest import filing_changes

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]


def provenance_rows(service) -> list[tuple]:
    """The rows of the 语料来源表 of ``service``'s package from its header on (a draft's marks come before it)."""
    data, _manifest = package_build(service, with_pdf=False)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        sheet = load_workbook(io.BytesIO(archive.read(DATASETS_NAME))).active
    rows = list(sheet.iter_rows(values_only=True))
    header = [r[0] for r in rows].index("名称")
    return rows[header:]


def row_of(rows: list[tuple], name: str) -> dict:
    header = rows[0]
    (row,) = [r for r in rows[1:] if r[0] == name]
    return dict(zip(header, row, strict=True))


@pytest.fixture
def text_set(db):
    return dataset_register(
        name="中文文本语料", sha256="d" * 64, source="自采网页", items=120_000, size_bytes=48_000_000
    )


def test_the_provenance_table_lists_every_dataset_of_the_service_with_its_scale(
    service, model_record, dataset, text_set, provider, operator
):
    from filing.services import service_create
    from generation.models import TrainingRun

    # MNIST through a training run of the service's model record; the text set linked to the service directly;
    # a third linked only to the model record; a fourth belongs to another service.
    run = TrainingRun.objects.create(kind="gan", model_record=model_record, status="succeeded")
    run.datasets.add(dataset)
    dataset_links_set(dataset=text_set, services=[service], model_records=[], actor=operator)
    tuned = dataset_register(name="微调语料", sha256="e" * 64, source="采购", items=3_000, size_bytes=900_000)
    dataset_links_set(dataset=tuned, services=[], model_records=[model_record], actor=operator)
    other_service = service_create(provider=provider, name="另一服务")
    elsewhere = dataset_register(name="别处语料", sha256="f" * 64, source="x", items=7)
    dataset_links_set(dataset=elsewhere, services=[other_service], model_records=[], actor=operator)
    text_set.evidence.create(kind="collection", file=ContentFile(b"robots.txt respected", name="crawl-log.txt"))

    assert set(service_datasets(service)) == {dataset, text_set, tuned}
    rows = provenance_rows(service)

    assert (
        sorted(r[0] for r in rows[1:-1]) == sorted(["中文文本语料", "MNIST 5k", "微调语料"]) and rows[-1][0] == "合计"
    )
    text = row_of(rows, "中文文本语料")
    assert text["条数"] == 120_000 and text["字节数"] == 48_000_000
    assert text["关联方式"] == "直接关联本服务" and text["来源类型"] == "开源"
    assert (
        text["佐证材料"].startswith(f"采集记录：附件7/语料-{text_set.pk}-collection-")
        and text["来源安全抽检"] == "未抽检"
    )
    assert row_of(rows, "MNIST 5k")["关联方式"] == f"训练运行：#{run.pk}"
    assert row_of(rows, "微调语料")["关联方式"] == "模型：手写数字GAN（GAN1）"
    assert row_of(rows, "MNIST 5k")["佐证材料"] == "无"
    # The file the row names is the copy in 附件7.
    with zipfile.ZipFile(io.BytesIO(package_build(service, with_pdf=False)[0])) as archive:
        assert text["佐证材料"].split("：", 1)[1] in archive.namelist()
    total = row_of(rows, "合计")
    assert total["条数"] == 120_000 + 5_000 + 3_000 and total["字节数"] == 48_000_000 + 900_000
    assert [r[0] for r in provenance_rows(other_service)[1:]] == ["别处语料", "合计"]


def test_linking_is_a_history_record_of_the_dataset(service, model_record, text_set, operator):
    dataset_links_set(dataset=text_set, services=[service], model_records=[model_record], actor=operator)
    dataset_links_set(dataset=text_set, services=[service], model_records=[model_record], actor=operator)

    ((row, payload),) = filing_changes(text_set, "changed")
    assert row.actor_username == "operator"
    assert payload["changes"]["services"] == [[], [str(service)]]
    assert payload["changes"]["model_records"] == [[], [str(model_record)]]


def test_training_refuses_a_dataset_that_was_never_checked_and_says_what_to_do():
    from generation.ml.data import digits8
    from generation.ml.nets.vae import VaeConfig
    from generation.models import TrainingRun
    from generation.training_runs import training_run_create, training_run_execute

    run = training_run_create(kind="vae", data="digits8", epochs=1, config=VaeConfig.tiny().to_dict(), enqueue=False)

    run = training_run_execute(run_id=run.pk, worker="test")

    assert run is not None and run.status == TrainingRun.Status.FAILED
    assert "has no passed source safety check (it was never checked)" in run.error
    assert "start a source safety check" in run.error and "record an exemption with the reason" in run.error
    assert not run.checkpoints.exists()
    # The dataset was registered by the attempt, so the operator finds it in the admin to check or exempt.
    assert run.datasets.get().sha256 == digits8().fingerprint


def test_a_dataset_in_review_is_refused_too(dataset, operator, settings):
    settings.FILING_SOURCE_SAMPLE_FLOOR = 5
    safety_threshold_set(key="corpus_source_sample_min", value=5, actor="test")
    safety_check_start(dataset=dataset, actor=operator, seed=1)

    assert "its check is still in review" in dataset_training_refusal(dataset)


def test_an_exemption_needs_a_reason_and_cannot_clear_a_failed_check(dataset, operator):
    with pytest.raises(FilingError, match="Write why"):
        dataset_check_exempt(dataset=dataset, reason="   ", actor=operator)

    Dataset.objects.filter(pk=dataset.pk).update(safety_status=Dataset.SafetyStatus.FAILED)
    with pytest.raises(FilingError, match="cannot be exempted"):
        dataset_check_exempt(dataset=dataset, reason="public data", actor=operator)
    assert dataset_training_refusal(dataset) is not None


def test_an_exemption_is_recorded_with_who_and_when_and_can_be_withdrawn(dataset, operator):
    assert dataset_training_refusal(dataset) is not None

    exempted = dataset_check_exempt(dataset=dataset, reason="Openly licensed public digits (CC BY-SA)", actor=operator)

    assert dataset_training_refusal(dataset) is None
    assert exempted.check_exempt_by == "operator" and exempted.check_exempt_at is not None
    ((_row, payload),) = filing_changes(dataset, "changed")
    assert payload["changes"]["check_exempt_reason"] == ["", "Openly licensed public digits (CC BY-SA)"]

    dataset_check_exemption_withdraw(dataset=dataset, actor=operator)
    assert "never checked" in dataset_training_refusal(dataset)


def _dataset_form(dataset: Dataset, **changes) -> dict:
    data = {
        "name": dataset.name,
        "source_type": dataset.source_type,
        "origin": dataset.origin,
        "source": dataset.source,
        "licence": dataset.licence,
        "licence_text": dataset.licence_text,
        "items": dataset.items or "",
        "size_bytes": dataset.size_bytes or "",
        "language_share": "",
        "personal_information_legal_basis": "",
        "check_exemption": "",
        "evidence-TOTAL_FORMS": "0",
        "evidence-INITIAL_FORMS": "0",
        "safety_checks-TOTAL_FORMS": "0",
        "safety_checks-INITIAL_FORMS": "0",
    }
    return data | changes


def test_training_accepts_an_exempted_dataset_and_the_package_shows_the_exemption(client_for, service):
    from generation.ml.data import digits8
    from generation.ml.nets.vae import VaeConfig
    from generation.models import TrainingRun
    from generation.training_runs import training_run_create, training_run_execute

    data = digits8()
    dataset = dataset_register(**data.facts())
    client = client_for(Role.OPERATOR, "operator")
    url = f"/admin/filing/dataset/{dataset.pk}/change/"
    reason = "UCI 手写数字公开数据集（CC BY 4.0），仅含数字图像，不含文字与个人信息"

    response = client.post(url, _dataset_form(dataset, check_exemption=reason, services=[str(service.pk)]))

    assert response.status_code == 302, response.content.decode()[:2000]
    dataset.refresh_from_db()
    assert dataset.check_exempt_reason == reason and dataset.check_exempt_by == "operator"
    assert list(dataset.services.all()) == [service]
    run = training_run_create(kind="vae", data="digits8", epochs=1, config=VaeConfig.tiny().to_dict(), enqueue=False)
    run = training_run_execute(run_id=run.pk, worker="test")
    assert run is not None and run.status == TrainingRun.Status.SUCCEEDED, run and run.error
    assert run.datasets.get() == dataset

    row = row_of(provenance_rows(service), data.name)
    assert row["抽检豁免理由"] == reason and row["豁免记录人"] == "operator" and row["豁免记录时间"]
    assert row["来源安全抽检"] == "未抽检（已豁免抽检）"
    assert row["条数"] == data.facts()["items"] and row["字节数"] == data.facts()["size_bytes"]
    # The service's page lists it, exempted.
    page = client.get(f"/admin/filing/service/{service.pk}/change/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert data.name in page and "exempted from the check" in page


def test_the_admin_refuses_to_exempt_a_failed_dataset_with_a_form_error(client_for, dataset):
    Dataset.objects.filter(pk=dataset.pk).update(safety_status=Dataset.SafetyStatus.FAILED)
    client = client_for(Role.OPERATOR, "operator")

    response = client.post(
        f"/admin/filing/dataset/{dataset.pk}/change/",
        _dataset_form(dataset, check_exemption="x"),
        HTTP_ACCEPT_LANGUAGE="en",
    )

    assert response.status_code == 200 and "cannot be exempted" in response.content.decode()
    dataset.refresh_from_db()
    assert not dataset.check_exempt


def test_the_source_check_samples_its_own_configured_size_not_the_corpus_figure(dataset, operator):
    config = safety_config()
    assert config.corpus_source_sample_min == 1000 and config.corpus_manual_sample_min == 4000

    check = safety_check_start(dataset=dataset, actor=operator, seed=3)

    assert check.sample_size == 1000 == source_sample_size_min()


def test_the_sample_size_cannot_go_below_the_floor(dataset, operator, settings):
    assert settings.FILING_SOURCE_SAMPLE_FLOOR == 400

    with pytest.raises(ValidationError, match="may not be set below 400"):
        safety_threshold_set(key="corpus_source_sample_min", value=399, actor="test")
    with pytest.raises(FilingError, match="at least 1000 items"):
        safety_check_start(dataset=dataset, actor=operator, seed=3, sample_size=50)

    safety_threshold_set(key="corpus_source_sample_min", value=400, actor="test")
    with pytest.raises(FilingError, match="at least 400 items"):
        safety_check_start(dataset=dataset, actor=operator, seed=3, sample_size=399)
    # A floor raised in the settings holds over a lower configured size; a larger sample may be asked for.
    settings.FILING_SOURCE_SAMPLE_FLOOR = 600
    assert source_sample_size_min() == 600
    assert safety_check_start(dataset=dataset, actor=operator, seed=3, sample_size=700).sample_size == 700


def test_the_threshold_form_says_why_a_size_below_the_floor_is_refused(client_for):
    from filing.safety.models import SafetyThreshold

    row = SafetyThreshold.objects.get(version__number=safety_config().version, key="corpus_source_sample_min")
    client = client_for(Role.OPERATOR, "operator")

    response = client.post(
        f"/admin/filing/safetythreshold/{row.pk}/change/",
        {"value": "10", "note": "smaller"},
        follow=True,
        HTTP_ACCEPT_LANGUAGE="en",
    )

    assert "may not be set below 400" in response.content.decode()
    assert safety_config().corpus_source_sample_min == 1000


def test_the_demo_data_links_and_exempts_the_bundled_nets_data_sets_with_reasons():
    from django.core.management import call_command

    from filing.models import Service

    call_command("demo_data", stdout=io.StringIO())

    service = Service.objects.get(is_public=True)
    datasets = list(service_datasets(service))
    assert {d.name for d in datasets} >= {
        "MNIST 5k (28x28)",
        "Song ci (宋词)",
        "COLD train (Chinese offensive language)",
    }
    for dataset in datasets:
        assert service in dataset.services.all() and dataset.model_records.filter(service=service).exists()
        assert dataset.check_exempt and "示例数据" in dataset.check_exempt_reason
        assert dataset.check_exempt_by == "system:demo_data" and dataset_training_refusal(dataset) is None


def test_readiness_takes_an_exemption_for_a_check_and_never_a_failed_one(service, text_set, operator):
    from filing.readiness import readiness_checklist

    def datasets_item():
        (item,) = [i for i in readiness_checklist(service) if i.key == "datasets"]
        return item

    dataset_links_set(dataset=text_set, services=[service], model_records=[], actor=operator)
    text_set.evidence.create(kind="licence", file=ContentFile(b"licence", name="licence.txt"))
    assert not datasets_item().ok and "safety check not passed: 中文文本语料" in datasets_item().detail

    dataset_check_exempt(dataset=text_set, reason="公开许可语料", actor=operator)
    assert datasets_item().ok

    Dataset.objects.filter(pk=text_set.pk).update(safety_status=Dataset.SafetyStatus.FAILED)
    assert not datasets_item().ok

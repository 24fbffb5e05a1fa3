"""The filing's missing fields: compute, the supply-chain assessment, the corpus scale per source, and for a
registration the called model's contract and the launch number (上线编号) named as such."""

from __future__ import annotations

import io
from datetime import date

import pytest
from django.core.files.base import ContentFile
from docx import Document as Docx

from filing.models import ComputeResource, Document, Service, SupplyChainItem
from filing.package.documents import application_form
from filing.readiness import readiness_checklist

pytestmark = pytest.mark.django_db


def _item(service, key):
    return next(item for item in readiness_checklist(service) if item.key == key)


def _text(docx_bytes: bytes) -> str:
    document = Docx(io.BytesIO(docx_bytes))
    cells = [cell.text for table in document.tables for row in table.rows for cell in row.cells]
    return "\n".join([p.text for p in document.paragraphs] + cells)


def test_compute_is_ready_with_training_and_inference_servers_and_the_concurrency(service, english):
    assert not _item(service, "compute").ok
    assert "training" in _item(service, "compute").detail

    ComputeResource.objects.create(service=service, purpose="training", server="x86", location="北京")
    ComputeResource.objects.create(service=service, purpose="inference", server="x86", location="北京")
    assert not _item(service, "compute").ok  # the concurrency is still missing
    service.inference_concurrency = 16
    service.save()

    assert _item(service, "compute").ok


def test_a_registration_needs_inference_servers_only_and_the_contract_for_calling_the_filed_model(service, english):
    service.route = Service.Route.REGISTRATION
    service.called_model_name, service.called_model_filer, service.called_model_number = (
        "某大模型",
        "某公司",
        "Beijing-MouMoXing-20240101",
    )
    service.inference_concurrency = 4
    service.save()
    ComputeResource.objects.create(service=service, purpose="inference", server="x86", location="上海")
    assert _item(service, "compute").ok

    called = _item(service, "called_model")
    assert not called.ok and "no contract" in called.detail
    Document.objects.create(
        service=service,
        kind=Document.Kind.CALL_CONTRACT,
        version="1",
        title="API 调用协议",
        file=ContentFile(b"contract", name="contract.pdf"),
    )
    assert _item(service, "called_model").ok
    # The filing's own documents do not ask a filing for a call contract.
    assert "contract" not in _item(service, "documents").detail


def test_the_supply_chain_is_ready_when_every_component_is_assessed_acceptable(service, english):
    assert not _item(service, "supply_chain").ok
    item = SupplyChainItem.objects.create(
        service=service,
        kind="hardware",
        name="GPU",
        supplier="某厂商",
        assessment="断供风险；已备国产替代",
        conclusion="not_acceptable",
        assessed_on=date(2026, 12, 1),
    )
    assert not _item(service, "supply_chain").ok
    assert "GPU" in _item(service, "supply_chain").detail

    item.conclusion = "with_measures"
    item.save()
    assert _item(service, "supply_chain").ok


def test_the_application_form_carries_compute_supply_chain_and_corpus_per_source(service, dataset, model_record):
    from tests.filing.conftest import _train_on, framework_assessed

    _train_on(model_record, dataset)
    dataset.items, dataset.size_bytes = 60000, 47000000
    dataset.save()
    ComputeResource.objects.create(
        service=service,
        purpose="training",
        server="某品牌服务器",
        servers=2,
        accelerator="某国产加速卡",
        accelerator_count=16,
        domestic=True,
        cloud_provider="某云",
        location="贵州",
    )
    service.inference_concurrency = 32
    service.save()
    framework_assessed(service)

    text = _text(application_form(service))

    for expected in (
        "算力信息",
        "某国产加速卡",
        "贵州",
        "某云",
        "推理并发数",
        "32",
        "供应链安全评估",
        "PyTorch Foundation",
    ):
        assert expected in text
    assert dataset.name in text and "60000" in text and "47000000" in text


def test_a_registrations_number_is_called_its_launch_number_in_the_admin(client, operator, service):
    service.route = Service.Route.REGISTRATION
    service.save()
    client.force_login(operator)

    page = client.get(f"/admin/filing/service/{service.pk}/change/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Launch number (上线编号)" in page and "Filing number" not in page
    step = client.get(f"/admin/filing/service/{service.pk}/step/record_filed/", HTTP_ACCEPT_LANGUAGE="en")
    assert "launch number (上线编号)" in step.content.decode()

    service.route = Service.Route.FILING
    service.save()
    page = client.get(f"/admin/filing/service/{service.pk}/change/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Launch number (上线编号)" not in page and "Filing number" in page

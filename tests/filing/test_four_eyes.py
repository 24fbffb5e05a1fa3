"""Four eyes: approving a model record, finalising a self-assessment and submitting a filing need a person other
than the one who last changed the record (GENAI_FILING_FOUR_EYES), and each step and each refusal is an audit
record."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client, override_settings

from audit.models import LogEntry
from filing.models import AssessmentClause, ModelRecord, SelfAssessment, Service
from filing.services import (
    FilingError,
    assessment_create,
    assessment_finalise,
    model_record_approve,
    service_self_assess,
    service_submit,
)

from .conftest import make_ready

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]


def _client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _admin_form_post(client: Client, url: str, inline_rows: dict[str, dict[str, str]] | None = None, **changes: Any):
    """Post the admin change form at ``url`` with its current values and ``changes``; the rows of the inlines are left
    as they are, except that ``inline_rows`` adds one new row to the inline of that prefix."""
    from django.forms import MultiWidget

    page = client.get(url)
    assert page.status_code == 200, url
    form = page.context["adminform"].form
    data: dict[str, Any] = {}
    for name, field in form.fields.items():
        if field.disabled:
            continue
        value = changes.pop(name) if name in changes else form[name].value()
        if isinstance(field.widget, MultiWidget):
            for index, part in enumerate(field.widget.decompress(value)):
                data[f"{name}_{index}"] = "" if part is None else str(part)
        elif isinstance(value, bool):
            if value:
                data[name] = "on"
        elif isinstance(value, list | tuple):
            data[name] = [str(v) for v in value]
        elif value is not None:
            data[name] = str(value)
    assert not changes, f"not fields of the form: {sorted(changes)}"
    for inline in page.context.get("inline_admin_formsets", []):
        prefix = inline.formset.prefix
        row = (inline_rows or {}).get(prefix)
        data |= {f"{prefix}-TOTAL_FORMS": "1" if row else "0", f"{prefix}-INITIAL_FORMS": "0"}
        for name, value in (row or {}).items():
            data[f"{prefix}-0-{name}"] = value
    response = client.post(url, data, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else response
    return response


def _events(event_type: str, subject: Any) -> list[LogEntry]:
    return list(
        LogEntry.objects.filter(
            event_type=event_type, subject_kind=subject._meta.label_lower, subject_id=str(subject.pk)
        ).order_by("seq")
    )


def _assessment_ready(service: Service, *, actor: Any) -> SelfAssessment:
    """An assessment ``actor`` created and completed, ready to be finalised."""
    assessment = assessment_create(service=service, title="自评估", actor=actor)
    AssessmentClause.objects.filter(assessment=assessment).update(verdict="nonconforming", reason="尚未完成")
    assessment.legal_representative_signer = "张三"
    assessment.assessment_lead_signer = "李四"
    assessment.legality_lead_signer = "王五"
    assessment.save()
    return assessment


@pytest.fixture
def submittable(service, model_record, dataset, operator, reviewer, lenient_thresholds):
    """A self-assessed service whose record ``operator`` changed last, in the admin."""
    make_ready(service, model_record, dataset, actor=operator, reviewer=reviewer)
    service_self_assess(service=service, actor=reviewer)
    _admin_form_post(
        _client(operator), f"/admin/filing/service/{service.pk}/change/", complaint_email="filing@example.com"
    )
    service.refresh_from_db()
    assert service.last_changed_by == operator and service.status == Service.Status.SELF_ASSESSED
    return service


# ------------------------------------------------------------------------------
# Approving a model record
# ------------------------------------------------------------------------------
def test_a_new_model_code_sends_an_approved_record_back_for_approval_by_another(model_record, operator, reviewer):
    model_record_approve(record=model_record, actor=reviewer)
    url = f"/admin/filing/modelrecord/{model_record.pk}/change/"

    # a routine change keeps the approval; a new model code, which every label carries, does not
    _admin_form_post(_client(operator), url, parameter_count=1000)
    model_record.refresh_from_db()
    assert model_record.approval == ModelRecord.Approval.APPROVED
    _admin_form_post(_client(operator), url, code="TOOL")
    model_record.refresh_from_db()
    assert (model_record.code, model_record.approval, model_record.approved_by) == ("TOOL", "pending", "")

    with pytest.raises(FilingError, match="another person must approve it"):
        model_record_approve(record=model_record, actor=operator)
    model_record_approve(record=model_record, actor=reviewer)
    model_record.refresh_from_db()
    assert model_record.approval == ModelRecord.Approval.APPROVED


def test_approval_is_refused_to_who_changed_the_record_last_and_allowed_to_another(model_record, operator, reviewer):
    _admin_form_post(_client(operator), f"/admin/filing/modelrecord/{model_record.pk}/change/", parameter_count=1000)
    model_record.refresh_from_db()
    assert model_record.last_changed_by == operator

    with pytest.raises(FilingError, match="another person must approve it") as refused:
        model_record_approve(record=model_record, actor=operator)
    assert str(model_record) in str(refused.value)
    model_record.refresh_from_db()
    assert model_record.approval == ModelRecord.Approval.PENDING and model_record.approved_by == ""
    (refusal,) = _events("filing.four_eyes_refused", model_record)
    assert refusal.actor_username == "operator"
    assert refusal.payload_data == {"step": "approve", "last_changed_by": "operator"}
    assert refusal.model_record == str(model_record)
    assert _events("filing.model_record_approved", model_record) == []

    model_record_approve(record=model_record, actor=reviewer)

    model_record.refresh_from_db()
    assert model_record.approval == ModelRecord.Approval.APPROVED and model_record.approved_by == "reviewer"
    # Approving is not a change of what the record files: who last changed it stays.
    assert model_record.last_changed_by == operator
    (approved,) = _events("filing.model_record_approved", model_record)
    assert approved.actor_username == "reviewer"
    assert approved.payload_data["last_changed_by"] == "operator"
    assert approved.payload_data["changes"]["approval"] == ["pending", "approved"]
    assert approved.payload_data["changes"]["approved_by"] == ["", "reviewer"]
    # The step is one record: no filing.changed of the approval besides it.
    changed = [row.payload_data for row in _events("filing.changed", model_record)]
    assert [p["changes"] for p in changed if p["action"] == "changed"] == [{"parameter_count": [None, 1000]}]


def test_a_record_no_person_changed_may_be_approved_by_anyone(model_record, operator):
    assert model_record.last_changed_by is None

    model_record_approve(record=model_record, actor=operator)

    (approved,) = _events("filing.model_record_approved", model_record)
    assert approved.actor_username == "operator" and approved.payload_data["last_changed_by"] == ""


def test_saving_the_admin_form_unchanged_does_not_make_the_operator_the_last_changer(model_record, operator, reviewer):
    _admin_form_post(_client(reviewer), f"/admin/filing/modelrecord/{model_record.pk}/change/", parameter_count=7)
    _admin_form_post(_client(operator), f"/admin/filing/modelrecord/{model_record.pk}/change/")
    model_record.refresh_from_db()
    assert model_record.last_changed_by == reviewer

    model_record_approve(record=model_record, actor=operator)

    with pytest.raises(FilingError, match="four eyes"):
        model_record_approve(record=model_record, actor=reviewer)


# ------------------------------------------------------------------------------
# Finalising the self-assessment
# ------------------------------------------------------------------------------
def test_finalising_is_refused_to_who_changed_the_assessment_last_and_allowed_to_another(service, operator, reviewer):
    assessment = _assessment_ready(service, actor=operator)
    assert assessment.last_changed_by == operator

    with pytest.raises(FilingError, match="another person must finalise it"):
        assessment_finalise(assessment=assessment, actor=operator)
    assessment.refresh_from_db()
    assert assessment.status == SelfAssessment.Status.DRAFT
    (refusal,) = _events("filing.four_eyes_refused", assessment)
    assert refusal.actor_username == "operator" and refusal.payload_data["step"] == "finalise"

    assessment_finalise(assessment=assessment, actor=reviewer)

    assessment.refresh_from_db()
    assert assessment.status == SelfAssessment.Status.FINALISED and assessment.finalised_by == "reviewer"
    (finalised,) = _events("filing.assessment_finalised", assessment)
    assert finalised.actor_username == "reviewer"
    assert finalised.payload_data["last_changed_by"] == "operator"
    assert finalised.payload_data["changes"]["status"] == ["draft", "finalised"]


def test_a_clause_changed_in_the_admin_makes_its_editor_the_last_changer(service, operator, reviewer):
    assessment = _assessment_ready(service, actor=reviewer)
    url = f"/admin/filing/selfassessment/{assessment.pk}/change/"
    client = _client(operator)
    page = client.get(url)
    formset = next(f.formset for f in page.context["inline_admin_formsets"] if f.formset.model is AssessmentClause)
    data: dict[str, Any] = {}
    form = page.context["adminform"].form
    for name, field in form.fields.items():
        value = form[name].value()
        if not field.disabled and value is not None:
            data[name] = str(value)
    data |= {
        f"{formset.prefix}-TOTAL_FORMS": str(len(formset.forms)),
        f"{formset.prefix}-INITIAL_FORMS": str(formset.initial_form_count()),
    }
    for index, clause_form in enumerate(formset.forms):
        for name in ("id", "assessment", "verdict", "evidence", "evidence_link", "reason", "owner"):
            value = clause_form[name].value()
            data[f"{formset.prefix}-{index}-{name}"] = "" if value is None else str(value)
    data[f"{formset.prefix}-0-owner"] = "安全部"
    response = client.post(url, data, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 302, response.context and response.context["adminform"].form.errors

    assessment.refresh_from_db()
    assert assessment.clauses.filter(owner="安全部").count() == 1
    assert assessment.last_changed_by == operator
    with pytest.raises(FilingError, match="four eyes"):
        assessment_finalise(assessment=assessment, actor=operator)
    assessment_finalise(assessment=assessment, actor=reviewer)


# ------------------------------------------------------------------------------
# Submitting the filing
# ------------------------------------------------------------------------------
def test_submission_is_refused_to_who_changed_the_service_last_and_allowed_to_another(submittable, operator, reviewer):
    service = submittable

    with pytest.raises(FilingError, match="another person must submit its filing"):
        service_submit(service=service, actor=operator)
    service.refresh_from_db()
    assert service.status == Service.Status.SELF_ASSESSED
    (refusal,) = _events("filing.four_eyes_refused", service)
    assert refusal.actor_username == "operator" and refusal.payload_data["step"] == "submit"

    service_submit(service=service, actor=reviewer)

    assert service.status == Service.Status.SUBMITTED
    (submitted,) = _events("filing.service_submitted", service)
    assert submitted.actor_username == "reviewer"
    assert submitted.payload_data["from_status"] == "self_assessed"
    assert submitted.payload_data["last_changed_by"] == "operator"
    assert submitted.payload_data["changes"]["status"] == ["self_assessed", "submitted"]


def test_a_row_added_on_the_service_page_counts_as_a_change_of_the_service(submittable, operator, reviewer):
    service = submittable
    _admin_form_post(
        _client(reviewer),
        f"/admin/filing/service/{service.pk}/change/",
        inline_rows={
            "compute": {
                "purpose": "inference",
                "server": "备用服务器",
                "servers": "1",
                "accelerator_count": "0",
                "location": "上海",
            }
        },
    )
    service.refresh_from_db()
    assert service.compute.filter(server="备用服务器").exists()
    assert service.last_changed_by == reviewer

    with pytest.raises(FilingError, match="four eyes"):
        service_submit(service=service, actor=reviewer)
    service_submit(service=service, actor=operator)


def test_the_tester_list_is_no_change_of_what_is_filed(submittable, operator, reviewer, user_with_role):
    from genai_platform.roles import Role

    service = submittable
    tester = user_with_role(Role.END_USER, "tester")
    _admin_form_post(_client(reviewer), f"/admin/filing/service/{service.pk}/change/", testers=[tester.pk])
    service.refresh_from_db()
    assert list(service.testers.all()) == [tester]
    assert service.last_changed_by == operator

    service_submit(service=service, actor=reviewer)


# ------------------------------------------------------------------------------
# The setting
# ------------------------------------------------------------------------------
@override_settings(FILING_FOUR_EYES=False)
def test_with_four_eyes_off_the_same_person_may_sign_off_everything(submittable, operator):
    service = submittable
    service_submit(service=service, actor=operator)
    record = ModelRecord.objects.create(service=service, name="第二模型", net_type="vae", code="VAE2")
    _admin_form_post(_client(operator), f"/admin/filing/modelrecord/{record.pk}/change/", parameter_count=10)
    model_record_approve(record=record, actor=operator)
    assessment = _assessment_ready(service, actor=operator)
    assessment_finalise(assessment=assessment, actor=operator)

    record.refresh_from_db()
    assessment.refresh_from_db()
    assert record.approval == ModelRecord.Approval.APPROVED and record.last_changed_by == operator
    assert assessment.status == SelfAssessment.Status.FINALISED and assessment.last_changed_by == operator
    assert service.status == Service.Status.SUBMITTED and service.last_changed_by == operator
    assert not LogEntry.objects.filter(event_type="filing.four_eyes_refused").exists()
    for event_type, subject in (
        ("filing.model_record_approved", record),
        ("filing.assessment_finalised", assessment),
        ("filing.service_submitted", service),
    ):
        (event,) = _events(event_type, subject)
        assert event.actor_username == "operator" and event.payload_data["last_changed_by"] == "operator"


# ------------------------------------------------------------------------------
# The admin shows why
# ------------------------------------------------------------------------------
def test_the_service_page_disables_submit_for_its_last_changer_and_says_why(submittable, operator, reviewer):
    service = submittable
    url = f"/admin/filing/service/{service.pk}/change/"
    reason = f"You made the last change to “{service}”, so another person must submit its filing (four eyes)."

    page = _client(operator).get(url, HTTP_ACCEPT_LANGUAGE="en")
    html = page.content.decode()
    assert page.context["four_eyes_refusal"] == reason
    assert f'<span class="object-tool-disabled" aria-disabled="true" title="{reason}">Submit the filing</span>' in html
    assert f"/admin/filing/service/{service.pk}/step/submit/" not in html
    assert f'<li class="warning" id="four-eyes">{reason}</li>' in html

    step = _client(operator).get(f"/admin/filing/service/{service.pk}/step/submit/", HTTP_ACCEPT_LANGUAGE="en")
    step_html = step.content.decode()
    assert f'<p class="errornote" id="four-eyes">{reason}</p>' in step_html
    assert f'disabled title="{reason}"' in step_html

    posted = _client(operator).post(
        f"/admin/filing/service/{service.pk}/step/submit/", follow=True, HTTP_ACCEPT_LANGUAGE="en"
    )
    assert posted.status_code == 200
    assert [str(m) for m in posted.context["messages"]] == [reason]
    service.refresh_from_db()
    assert service.status == Service.Status.SELF_ASSESSED

    other = _client(reviewer).get(url, HTTP_ACCEPT_LANGUAGE="en")
    assert other.context["four_eyes_refusal"] is None
    assert f"/admin/filing/service/{service.pk}/step/submit/" in other.content.decode()
    assert "object-tool-disabled" not in other.content.decode()


def test_the_model_record_page_and_its_approve_action_say_why_approval_is_refused(model_record, operator, reviewer):
    url = f"/admin/filing/modelrecord/{model_record.pk}/change/"
    client = _client(operator)
    _admin_form_post(client, url, parameter_count=1000)
    reason = f"You made the last change to “{model_record}”, so another person must approve it (four eyes)."

    page = client.get(url, HTTP_ACCEPT_LANGUAGE="en")
    assert f'<li class="warning" id="four-eyes">{reason}</li>' in page.content.decode()
    assert 'id="four-eyes"' not in _client(reviewer).get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()

    response = client.post(
        "/admin/filing/modelrecord/",
        {"action": "approve", "_selected_action": [model_record.pk], "reason": ""},
        follow=True,
        HTTP_ACCEPT_LANGUAGE="en",
    )
    messages = [(m.level_tag, str(m)) for m in response.context["messages"]]
    assert messages == [("error", reason)]
    model_record.refresh_from_db()
    assert model_record.approval == ModelRecord.Approval.PENDING
    (refusal,) = _events("filing.four_eyes_refused", model_record)
    assert refusal.source_ip == "127.0.0.1"

    _client(reviewer).post(
        "/admin/filing/modelrecord/", {"action": "approve", "_selected_action": [model_record.pk], "reason": ""}
    )
    model_record.refresh_from_db()
    assert model_record.approval == ModelRecord.Approval.APPROVED
    # Once approved, the page no longer speaks of approving.
    assert 'id="four-eyes"' not in client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()


def test_the_assessment_finalise_action_says_why_it_is_refused(service, operator, reviewer):
    assessment = _assessment_ready(service, actor=operator)
    reason = f"You made the last change to “{assessment}”, so another person must finalise it (four eyes)."
    client = _client(operator)

    page = client.get(f"/admin/filing/selfassessment/{assessment.pk}/change/", HTTP_ACCEPT_LANGUAGE="en")
    assert f'<li class="warning" id="four-eyes">{reason}</li>' in page.content.decode()
    response = client.post(
        "/admin/filing/selfassessment/",
        {"action": "finalise", "_selected_action": [assessment.pk]},
        follow=True,
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert [str(m) for m in response.context["messages"]] == [reason]
    assessment.refresh_from_db()
    assert assessment.status == SelfAssessment.Status.DRAFT


# ------------------------------------------------------------------------------
# Records that existed before: who last changed them comes from the audit log
# ------------------------------------------------------------------------------
def test_the_migration_fills_in_who_last_changed_each_record_from_the_audit_log(
    service, model_record, operator, reviewer
):
    import importlib

    from django.apps import apps
    from django.utils import timezone

    from filing.history import acting_as

    fill = importlib.import_module("filing.migrations.0022_four_eyes").last_changed_by_fill
    untouched = ModelRecord.objects.create(service=service, name="平台登记", net_type="vae", code="VAE3")
    with acting_as(operator):
        model_record.parameter_count = 5
        model_record.save()
        service.compute.create(purpose="training", server="x86", location="北京")
    with acting_as(reviewer):
        # Steps that are no change of what the record files (written as filing.changed before four eyes).
        model_record.approval = ModelRecord.Approval.APPROVED
        model_record.approved_by = "reviewer"
        model_record.approved_at = timezone.now()
        model_record.save()
        service.status = Service.Status.SELF_ASSESSED
        service.save()
        assessment = assessment_create(service=service, title="旧评估", actor=None)
        assessment.conclusion = "初稿"
        assessment.save()
    with acting_as(operator):
        clause = assessment.clauses.first()
        clause.owner = "安全部"
        clause.save()
    for model in (ModelRecord, SelfAssessment, Service):
        model.objects.update(last_changed_by=None)

    fill(apps, None)

    for record in (model_record, service, assessment, untouched):
        record.refresh_from_db()
    assert model_record.last_changed_by == operator
    assert service.last_changed_by == operator
    assert assessment.last_changed_by == operator
    assert untouched.last_changed_by is None


def test_a_change_by_the_platform_leaves_the_last_person(service, operator, reviewer):
    from decimal import Decimal

    from filing.services import assessment_metrics_record

    assessment = _assessment_ready(service, actor=operator)
    assessment_metrics_record(assessment=assessment, corpus_manual_pass_rate=Decimal("0.9"))
    assessment.refresh_from_db()
    assert assessment.last_changed_by == operator

    assessment_metrics_record(assessment=assessment, actor=reviewer, corpus_manual_pass_rate=Decimal("0.91"))
    assessment.refresh_from_db()
    assert assessment.last_changed_by == reviewer

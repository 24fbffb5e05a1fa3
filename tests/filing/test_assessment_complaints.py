"""Security self-assessment finalisation rules; complaints with due dates and audit events."""

from __future__ import annotations

import datetime
import json

import pytest
from django.test import override_settings
from django.utils import timezone

from audit.models import LogEntry
from filing.models import AssessmentClause, Complaint, SelfAssessment
from filing.readiness import assessment_rate_failures
from filing.safety.selectors import safety_config
from filing.services import (
    FilingError,
    assessment_create,
    assessment_finalise,
    assessment_metrics_record,
    assessment_problems,
    complaint_create,
    complaint_resolve,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]


@pytest.fixture
def assessment(service, operator):
    created = assessment_create(service=service, title="自评估", actor=operator)
    AssessmentClause.objects.filter(assessment=created).update(verdict="conforms", evidence="记录")
    # The measured clauses conform only with a linked run and corpus check (tests/generation/test_screening.py).
    AssessmentClause.objects.filter(assessment=created, clause__in=("9.2", "9.3", "9.4")).update(
        verdict="nonconforming", reason="尚无评估运行"
    )
    return created


def test_cannot_finalise_until_the_three_signers_are_recorded(assessment, reviewer):
    assessment.legal_representative_signer = "张三"
    assessment.save()
    with pytest.raises(FilingError) as excinfo:
        assessment_finalise(assessment=assessment, actor=reviewer)
    assert "overall assessment lead" in str(excinfo.value) or "总负责人" in str(excinfo.value)

    assessment.assessment_lead_signer = "李四"
    assessment.legality_lead_signer = "王五"
    assessment.save()
    assessment_finalise(assessment=assessment, actor=reviewer)
    assert assessment.status == SelfAssessment.Status.FINALISED and assessment.finalised_by == "reviewer"


def test_one_person_in_several_roles_needs_a_note(assessment, operator):
    assessment.legal_representative_signer = assessment.assessment_lead_signer = "张三"
    assessment.legality_lead_signer = "王五"
    assessment.save()
    assert len(assessment_problems(assessment)) == 1
    assessment.signers_note = "张三兼任法定代表人与评估总负责人"
    assessment.save()
    assert assessment_problems(assessment) == []


def test_verdicts_need_reasons_and_evidence(assessment):
    first, second, *_ = assessment.clauses.order_by("position")
    first.verdict, first.reason = AssessmentClause.Verdict.NOT_APPLICABLE, ""
    first.save()
    second.evidence = ""
    second.save()
    problems = " ".join(assessment_problems(assessment))
    assert first.clause in problems and second.clause in problems


def test_metrics_are_checked_against_the_configured_rates(assessment, operator):
    config = safety_config()
    assessment_metrics_record(
        assessment=assessment,
        actor=operator,
        generated_pass_rate_manual="0.89",
        nonrefuse_refusal_rate="0.06",
        generated_sample_size=1000,
    )
    assessment.refresh_from_db()
    failures = " ".join(assessment_rate_failures(assessment, config))
    assert "89%" in failures and "6%" in failures and "90%" in failures
    with pytest.raises(TypeError):
        assessment_metrics_record(assessment=assessment, bogus=1)


@override_settings(COMPLAINT_RESPONSE_DAYS=3)
def test_complaint_gets_a_due_date_and_an_audit_event(service, end_user):
    from filing.services import service_make_public

    service_make_public(service=service, actor=None)  # complaints belong to the public service
    complaint = complaint_create(
        channel="web", complainant=end_user.username, category="label", produce_id="abc-123", user=end_user
    )
    assert complaint.service == service
    assert complaint.due_at - complaint.received_at == datetime.timedelta(days=3)
    assert complaint.user_id == str(end_user.pk)
    event = LogEntry.objects.get(event_type="complaint.received")
    assert event.produce_id == "abc-123" and event.actor_username == end_user.username
    assert json.loads(event.payload) == {"category": "label", "channel": "web", "due_at": complaint.due_at.isoformat()}
    assert not complaint.is_overdue


def test_overdue_and_resolution(service, operator):
    complaint = complaint_create(
        channel="phone",
        complainant="138****0000",
        category="illegal",
        received_at=timezone.now() - datetime.timedelta(days=30),
    )
    assert complaint.is_overdue
    with pytest.raises(FilingError):
        complaint_resolve(complaint=complaint, resolution=" ", actor=operator)
    complaint_resolve(complaint=complaint, resolution="已删除并警告用户", actor=operator)
    complaint.refresh_from_db()
    assert complaint.status == Complaint.Status.RESOLVED and not complaint.is_overdue
    assert LogEntry.objects.filter(event_type="complaint.resolved").count() == 1


def test_unknown_channel_or_category_is_refused(service):
    with pytest.raises(FilingError):
        complaint_create(channel="pigeon", complainant="x", category="illegal")
    with pytest.raises(FilingError):
        complaint_create(channel="web", complainant="x", category="nope")


@pytest.fixture
def end_user(user_with_role):
    from genai_platform.roles import Role

    return user_with_role(Role.END_USER, "enduser1")


def test_complaint_handling_in_the_admin_is_audited(client_for, service):
    from genai_platform.roles import Role

    complaint = complaint_create(channel="email", complainant="a@example.com", category="rights")
    client = client_for(Role.OPERATOR, "handler")
    response = client.post("/admin/filing/complaint/", {"action": "take_on", "_selected_action": [complaint.pk]})
    assert response.status_code == 302
    complaint.refresh_from_db()
    assert complaint.status == Complaint.Status.IN_PROGRESS and complaint.handler == "handler"
    updated = LogEntry.objects.get(event_type="complaint.updated")
    assert updated.actor_username == "handler"
    assert json.loads(updated.payload) == {
        "status": "in_progress",
        "changes": {"handler": ["", "handler"], "status": ["received", "in_progress"]},
    }

    response = client.post(
        "/admin/filing/complaint/",
        {"action": "resolve", "_selected_action": [complaint.pk], "reason": "已更正标识"},
    )
    complaint.refresh_from_db()
    assert complaint.status == Complaint.Status.RESOLVED and complaint.resolution == "已更正标识"
    assert LogEntry.objects.filter(event_type="complaint.resolved", actor_username="handler").exists()
    # One record per action: the complaint events carry the changes; no separate filing.changed records.
    about = LogEntry.objects.filter(subject_kind="filing.complaint", subject_id=str(complaint.pk))
    assert sorted(about.values_list("event_type", flat=True)) == [
        "complaint.received",
        "complaint.resolved",
        "complaint.updated",
    ]


def test_complaint_entered_in_the_admin_gets_its_due_date_and_event(client_for, service):
    from genai_platform.roles import Role

    client = client_for(Role.OPERATOR, "desk")
    response = client.post(
        "/admin/filing/complaint/add/",
        {
            "service": service.pk,
            "channel": "phone",
            "category": "illegal",
            "complainant": "来电 138****0000",
            "produce_id": "",
            "details": "电话投诉",
            "status": "received",
            "handler": "",
            "received_at_0": "2026-11-29",
            "received_at_1": "10:00:00",
            "resolution": "",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    complaint = Complaint.objects.get(complainant="来电 138****0000")
    assert complaint.due_at is not None
    event = LogEntry.objects.get(event_type="complaint.received")
    assert event.actor_username == "desk" and event.subject_id == str(complaint.pk)


def test_admin_finalise_action_refuses_without_signers(client_for, assessment):
    from genai_platform.roles import Role

    client = client_for(Role.OPERATOR, "op")
    response = client.post(
        "/admin/filing/selfassessment/",
        {"action": "finalise", "_selected_action": [assessment.pk]},
        follow=True,
        HTTP_ACCEPT_LANGUAGE="en",
    )
    messages = [str(m) for m in response.context["messages"]]
    assert any("Signers missing" in m for m in messages)
    assessment.refresh_from_db()
    assert assessment.status == SelfAssessment.Status.DRAFT
    page = client.get(f"/admin/filing/selfassessment/{assessment.pk}/change/", HTTP_ACCEPT_LANGUAGE="en")
    assert "Signers missing" in page.content.decode()


def _change_form_post(client, complaint, **changes):
    data = {
        "service": complaint.service_id or "",
        "channel": complaint.channel,
        "category": complaint.category,
        "pi_request": complaint.pi_request,
        "complainant": complaint.complainant,
        "contact": complaint.contact,
        "produce_id": complaint.produce_id,
        "details": complaint.details,
        "status": complaint.status,
        "handler": complaint.handler,
        "resolution": complaint.resolution,
    } | changes
    return client.post(f"/admin/filing/complaint/{complaint.pk}/change/", data, HTTP_ACCEPT_LANGUAGE="en")


def test_closing_a_complaint_in_its_form_needs_the_answer_and_is_the_resolution(client_for, service):
    from genai_platform.roles import Role

    complaint = complaint_create(channel="web", complainant="visitor", category="other", contact="v@example.cn")
    received = complaint.received_at
    client = client_for(Role.OPERATOR, "answerer")

    refused = _change_form_post(client, complaint, status="resolved", resolution="")
    assert refused.status_code == 200 and "Describe how the complaint was resolved" in refused.content.decode()
    complaint.refresh_from_db()
    assert complaint.status == Complaint.Status.RECEIVED

    done = _change_form_post(client, complaint, status="resolved", resolution="已答复")
    assert done.status_code == 302
    complaint.refresh_from_db()
    assert complaint.status == Complaint.Status.RESOLVED and complaint.resolved_at is not None
    assert complaint.handler == "answerer" and complaint.received_at == received
    assert LogEntry.objects.filter(event_type="complaint.resolved", actor_username="answerer").count() == 1

    reopened = _change_form_post(client, complaint, status="in_progress")
    assert reopened.status_code == 200 and "cannot be reopened" in reopened.content.decode()
    complaint.refresh_from_db()
    assert complaint.status == Complaint.Status.RESOLVED

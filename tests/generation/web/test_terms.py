"""Terms of service and privacy policy as versioned documents: published from the filing, accepted by each user
with the version and the time, and accepted again when a new version is published, before the next generation."""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile

from filing.models import Document, Service
from filing.services import FilingError, document_publish
from genai_platform.roles import Role
from generation import services
from generation.models import Job, TermsAcceptance
from tests.generation.factories import checkpoint_tiny

pytestmark = pytest.mark.django_db

PASSWORD = "Terms-pass-13579"


def _document(
    kind: str = Document.Kind.SERVICE_AGREEMENT, version: str = "2.0", body: str = "第一条\n\n第二条"
) -> Document:
    document = Document(
        service=Service.objects.get(is_public=True), kind=kind, version=version, title="用户服务协议", body=body
    )
    document.file.save(f"{kind}-{version}.txt", ContentFile(b"text"), save=False)
    document.save()
    return document


def test_sign_up_records_the_versions_accepted_with_the_time(client, audit_log):
    response = client.post(
        "/accounts/signup/",
        {
            "username": "newbie",
            "email": "newbie@example.cn",
            "date_of_birth": "1990-01-01",
            "password1": PASSWORD,
            "password2": PASSWORD,
            "accept_terms": "on",
        },
    )

    assert response.status_code == 302
    accepted = {(a.kind, a.version) for a in TermsAcceptance.objects.filter(user__username="newbie")}
    assert accepted == {("service_agreement", "built-in"), ("privacy_policy", "built-in")}
    assert audit_log.filter(event_type="user.terms_accepted").count() == 1


def test_a_published_version_is_shown_and_must_be_accepted_before_the_next_generation(client_for, audit_log):
    checkpoint_tiny("vae")
    enduser = client_for(Role.END_USER, "reader")
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.get(username="reader")
    assert services.job_submit(user=user, kind="vae", params={"count": 1}).status == Job.Status.QUEUED

    document = document_publish(document=_document(), actor=None)

    page = enduser.get("/terms/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "用户服务协议, version 2.0" in page and "第二条" in page
    assert "How outputs are labelled" in page and "AI生成" in page
    with pytest.raises(services.JobUnavailable) as refused:
        services.job_submit(user=user, kind="vae", params={"count": 1})
    assert refused.value.code == "terms_not_accepted"
    generate = enduser.get("/generate/?kind=vae", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'id="terms-pending"' in generate and "用户服务协议 2.0" in generate

    enduser.post("/terms/accept/")

    assert TermsAcceptance.objects.filter(user=user, document_id=document.pk, version="2.0").exists()
    assert services.job_submit(user=user, kind="vae", params={"count": 1}).status == Job.Status.QUEUED
    assert audit_log.filter(event_type="user.terms_accepted").count() == 1


def test_the_api_refuses_with_a_reason_until_the_new_terms_are_accepted(client_for):
    from rest_framework.test import APIClient

    checkpoint_tiny("vae")
    client_for(Role.END_USER, "apiuser")
    from django.contrib.auth import get_user_model

    api = APIClient()
    api.force_authenticate(get_user_model().objects.get(username="apiuser"))
    document_publish(document=_document(kind=Document.Kind.PRIVACY_POLICY, version="3"), actor=None)

    response = api.post("/api/v1/jobs/", {"kind": "vae", "params": {"count": 1}}, format="json")

    assert response.status_code == 403 and response.json()["error"]["code"] == "terms_not_accepted"


def test_only_a_written_agreement_or_policy_of_the_public_service_is_published():
    with pytest.raises(FilingError):
        document_publish(document=_document(body="  "), actor=None)
    rules = _document(kind=Document.Kind.ANNOTATION_RULES, version="1")
    with pytest.raises(FilingError):
        document_publish(document=rules, actor=None)


def test_the_privacy_page_states_retention_and_the_purge_truthfully(client, settings):
    settings.AUDIT_RETENTION_DAYS = 200

    page = client.get("/privacy/", HTTP_ACCEPT_LANGUAGE="en").content.decode()

    assert "for 200 days" in page and "a scheduled purge deletes them" in page
    assert "stay" not in page.split('id="retention"')[1]


def test_the_terms_name_the_models_behind_the_service(client):
    record = checkpoint_tiny("gan").model_record

    page = client.get("/terms/", HTTP_ACCEPT_LANGUAGE="en").content.decode()

    assert str(record) in page and "The models behind the service" in page

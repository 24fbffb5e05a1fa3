"""Change history: creates, changes and deletes of filing records reach the audit log with who,
when and the fields before and after, whatever path the write takes."""

from __future__ import annotations

import pytest

from audit.models import LogEntry
from filing.history import acting_as
from filing.models import Dataset, ModelRecord, Provider, Service
from genai_platform.roles import Role

from .conftest import GOOD_USCC, filing_changes

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]


def test_service_layer_create_and_change_are_recorded(provider):
    created = filing_changes(provider, "created")
    assert len(created) == 1
    row, payload = created[0]
    assert payload["changes"]["uscc"] == [None, GOOD_USCC]
    assert row.actor_username == "system"

    provider.office_address = "北京市海淀区"
    provider.save()

    ((row, payload),) = filing_changes(provider, "changed")
    assert payload["changes"] == {"office_address": ["", "北京市海淀区"]}
    assert row.created_at is not None


def test_saving_without_a_change_records_nothing(provider):
    provider.save()
    assert filing_changes(provider, "changed") == []


def test_queryset_update_records_each_row_before_and_after(service, user_with_role):
    other = Service.objects.create(provider=service.provider, name="文本服务")
    user = user_with_role(Role.OPERATOR, "op2")

    with acting_as(user):
        count = Service.objects.filter(pk__in=[service.pk, other.pk]).update(internal_testing=True)

    assert count == 2
    for target in (service, other):
        ((row, payload),) = filing_changes(target, "changed")
        assert payload["changes"] == {"internal_testing": [False, True]}
        assert row.actor_username == "op2"


def test_update_that_changes_nothing_records_nothing(service):
    Service.objects.filter(pk=service.pk).update(name=service.name)
    assert filing_changes(service, "changed") == []


def test_update_rolled_back_leaves_no_history(service):
    from django.db import transaction

    from audit.models import LogEntry

    before = LogEntry.objects.count()
    with pytest.raises(RuntimeError), transaction.atomic():
        Service.objects.filter(pk=service.pk).update(version="9.9")
        raise RuntimeError("abort")
    assert LogEntry.objects.count() == before


def test_queryset_delete_and_bulk_create_are_recorded(service):
    records = ModelRecord.objects.bulk_create(
        [
            ModelRecord(service=service, name="甲", net_type="gan", code="AAA1"),
            ModelRecord(service=service, name="乙", net_type="vae", code="AAA2"),
        ]
    )
    kept = {r.pk for r in records}
    for record in ModelRecord.objects.filter(pk__in=kept):
        ((_row, payload),) = filing_changes(record, "created")
        assert payload["changes"]["code"][0] is None

    ModelRecord.objects.filter(pk__in=kept).delete()

    for record in records:
        ((_row, payload),) = filing_changes(record, "deleted")
        assert payload["changes"]["name"][1] is None
        assert payload["changes"]["name"][0] in {"甲", "乙"}


def test_bulk_update_is_recorded(dataset):
    dataset.language_share = "zh 100%"
    Dataset.objects.bulk_update([dataset], ["language_share"])
    ((_row, payload),) = filing_changes(dataset, "changed")
    assert payload["changes"] == {"language_share": ["", "zh 100%"]}


def test_admin_edit_is_recorded_with_the_operator(client_for, provider):
    client = client_for(Role.OPERATOR, "alice")
    url = f"/admin/filing/provider/{provider.pk}/change/"
    page = client.get(url)
    assert page.status_code == 200
    data = {
        "legal_name": provider.legal_name,
        "uscc": provider.uscc,
        "registered_address": provider.registered_address,
        "office_address": "上海市浦东新区",
        "legal_representative": provider.legal_representative,
        "safety_lead": provider.safety_lead,
        "safety_lead_phone": "",
        "safety_lead_email": "",
        "contact_name": "",
        "contact_phone": provider.contact_phone,
        "contact_email": "",
        "nature": "private",
        "parent_company": "",
        "industry_regulator": "",
        "services-TOTAL_FORMS": "0",
        "services-INITIAL_FORMS": "0",
        "services-MIN_NUM_FORMS": "0",
        "services-MAX_NUM_FORMS": "1000",
    }
    response = client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:2000]

    ((row, payload),) = filing_changes(provider, "changed")
    assert row.actor_username == "alice"
    assert row.source_ip == "127.0.0.1"
    assert payload["changes"] == {"nature": ["", "private"], "office_address": ["", "上海市浦东新区"]}


def test_admin_form_says_which_uscc_character_is_wrong(client_for):
    client = client_for(Role.OPERATOR)
    response = client.post(
        "/admin/filing/provider/add/",
        {
            "legal_name": "错码公司",
            "uscc": "91110000802100433A",
            "services-TOTAL_FORMS": "0",
            "services-INITIAL_FORMS": "0",
            "services-MIN_NUM_FORMS": "0",
            "services-MAX_NUM_FORMS": "1000",
        },
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors["uscc"]
    assert any("“A”" in e and "“B”" in e for e in errors)
    assert not Provider.objects.filter(legal_name="错码公司").exists()


def test_admin_bulk_action_is_recorded(client_for, model_record):
    client = client_for(Role.OPERATOR, "bob")
    response = client.post(
        "/admin/filing/modelrecord/",
        {"action": "approve", "_selected_action": [model_record.pk], "reason": ""},
    )
    assert response.status_code == 302
    model_record.refresh_from_db()
    assert model_record.approval == "approved" and model_record.approved_by == "bob"
    # The approval is one record of its own type, with the fields it changed, rather than a filing.changed.
    assert filing_changes(model_record, "changed") == []
    row = LogEntry.objects.get(event_type="filing.model_record_approved", subject_id=str(model_record.pk))
    assert row.actor_username == "bob"
    assert row.payload_data["changes"]["approval"] == ["pending", "approved"]


def test_admin_delete_is_recorded(client_for, service):
    from django.core.files.base import ContentFile

    from filing.models import Document

    document = Document.objects.create(
        service=service, kind="privacy_policy", version="1", title="隐私政策", file=ContentFile(b"x", name="p.txt")
    )
    client = client_for(Role.OPERATOR, "carol")
    response = client.post(f"/admin/filing/document/{document.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    ((row, payload),) = filing_changes(document, "deleted")
    assert row.actor_username == "carol"
    assert payload["changes"]["title"] == ["隐私政策", None]


def test_cascade_delete_records_every_filing_row(service, operator):
    from django.core.files.base import ContentFile

    from filing.models import Document, Provider
    from filing.services import assessment_create

    document = Document.objects.create(
        service=service, kind="service_agreement", version="1", title="协议", file=ContentFile(b"x", name="a.txt")
    )
    assessment = assessment_create(service=service, title="评估", actor=operator)
    clause = assessment.clauses.first()
    provider = service.provider

    with acting_as(operator):
        service.delete()
        Provider.objects.filter(pk=provider.pk).delete()

    for gone in (document, assessment, clause, provider):
        ((row, _payload),) = filing_changes(gone, "deleted")
        assert row.actor_username == "operator"


def test_keyword_library_and_threshold_versions_are_recorded():
    from filing.models import KeywordLibraryVersion, SafetyConfigVersion
    from filing.safety.services import keyword_create, safety_threshold_set

    keyword_create(keyword="历史测试词", risk_code="A.1.2", actor="kw-editor")
    version = KeywordLibraryVersion.objects.order_by("-number").first()
    ((row, payload),) = filing_changes(version, "created")
    assert row.actor_username == "kw-editor"
    assert row.keyword_library_version == str(version.number)
    assert payload["changes"]["keyword_count"] == [None, version.keyword_count]

    safety_threshold_set(key="corpus_manual_sample_min", value=5000, actor="cfg-editor", note="more")
    config = SafetyConfigVersion.objects.order_by("-number").first()
    ((row, payload),) = filing_changes(config, "created")
    assert row.actor_username == "cfg-editor" and payload["changes"]["note"] == [None, "more"]


def test_api_request_with_a_token_names_the_token_user(dataset, user_with_role):
    """Through the middleware, a DRF view authenticated by token is attributed to the token's user."""
    from django.test import RequestFactory
    from rest_framework.authtoken.models import Token
    from rest_framework.response import Response
    from rest_framework.views import APIView

    from filing.middleware import FilingActorMiddleware

    user = user_with_role(Role.OPERATOR, "api-op")
    token = Token.objects.create(user=user)

    class Rename(APIView):
        def post(self, request):
            Dataset.objects.filter(pk=dataset.pk).update(name="renamed by API")
            return Response({"ok": True})

    request = RequestFactory().post("/x/", HTTP_AUTHORIZATION=f"Token {token.key}")
    response = FilingActorMiddleware(Rename.as_view())(request)

    assert response.status_code == 200
    ((row, payload),) = filing_changes(dataset, "changed")
    assert row.actor_username == "api-op"
    assert payload["changes"]["name"] == ["MNIST 5k", "renamed by API"]

"""The complaint channel anyone can use: no login, the service's phone and e-mail, a number and a due date,
personal-information requests with their own deadline and queue, and a way to see the answer."""

from __future__ import annotations

from datetime import datetime

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from filing.models import Complaint, PersonalInformationRequest, Service
from filing.models.complaints import working_days_after
from genai_platform.roles import Role

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _channel(_public_service):
    Service.objects.filter(is_public=True).update(complaint_phone="010-12345678", complaint_email="ts@example.cn")


def test_the_page_shows_the_phone_and_e_mail_and_a_form_without_login(client):
    page = client.get("/complaints/", HTTP_ACCEPT_LANGUAGE="en").content.decode()

    assert "010-12345678" in page and "mailto:ts@example.cn" in page
    assert 'name="contact"' in page and 'name="attachment"' in page


def test_anyone_sends_a_complaint_and_gets_a_number_and_a_due_date(client, audit_log):
    response = client.post(
        "/complaints/",
        {
            "contact": "13800000000",
            "category": "illegal",
            "details": "这段文字有问题",
            "produce_id": "abc123",
            "attachment": SimpleUploadedFile("shot.png", b"\x89PNG fake", content_type="image/png"),
        },
        follow=True,
        HTTP_ACCEPT_LANGUAGE="en",
    )

    complaint = Complaint.objects.get()
    assert complaint.user_id == "" and complaint.contact == "13800000000" and complaint.attachment
    assert complaint.service.is_public and complaint.number == f"TS-{complaint.pk:06d}"
    assert f"Your complaint number is {complaint.number}" in response.content.decode()
    assert audit_log.filter(event_type="complaint.received", produce_id="abc123").count() == 1


def test_a_personal_information_request_says_what_it_asks_and_has_its_own_deadline_and_queue(client, client_for):
    missing = client.post("/complaints/", {"contact": "a@b.cn", "category": "personal_info", "details": "请删除"})
    client.post(
        "/complaints/",
        {"contact": "a@b.cn", "category": "personal_info", "pi_request": "deletion", "details": "请删除我的数据"},
    )

    assert missing.status_code == 400
    request = PersonalInformationRequest.objects.get()
    assert request.pi_request == "deletion" and request.number.startswith("PI-")
    assert request.due_at == working_days_after(request.received_at, 15)
    operator = client_for(Role.OPERATOR)
    assert request.number in operator.get("/admin/filing/personalinformationrequest/").content.decode()
    assert request.number not in operator.get("/admin/filing/complaint/").content.decode()


def test_working_days_skip_weekends():
    friday = datetime(2026, 12, 4, 10, 0)

    assert working_days_after(friday, 1) == datetime(2026, 12, 7, 10, 0)
    assert working_days_after(friday, 15) == datetime(2026, 12, 25, 10, 0)


def test_the_complainant_sees_the_answer_with_the_number_and_the_contact(client, client_for):
    from filing.services import complaint_resolve

    client.post("/complaints/", {"contact": "me@example.cn", "category": "rights", "details": "侵犯了我的权利"})
    complaint = Complaint.objects.get()
    complaint_resolve(complaint=complaint, resolution="已删除相关内容", actor=None)

    found = client.get("/complaints/track/", {"number": complaint.number.lower(), "contact": "ME@example.cn"})
    wrong = client.get("/complaints/track/", {"number": complaint.number, "contact": "other@example.cn"})

    assert "已删除相关内容" in found.content.decode()
    assert "已删除相关内容" not in wrong.content.decode()


def test_a_signed_in_user_sees_their_complaints_and_answers(client_for):
    enduser = client_for(Role.END_USER, "lena")
    enduser.post("/complaints/", {"contact": "lena@example.cn", "category": "other", "details": "问题"})

    page = enduser.get("/complaints/").content.decode()

    complaint = Complaint.objects.get()
    assert complaint.complainant == "lena" and complaint.user_id
    assert complaint.number in page


def test_too_many_complaints_from_one_address_are_refused_with_a_sentence(client, settings):
    settings.COMPLAINTS_ANONYMOUS_PER_HOUR = 2
    data = {"contact": "x@y.cn", "category": "other", "details": "问题"}

    codes = [client.post("/complaints/", data, REMOTE_ADDR="10.1.1.1").status_code for _ in range(3)]

    assert codes == [302, 302, 429]
    assert Complaint.objects.count() == 2


def test_a_large_file_is_a_field_error(client):
    big = SimpleUploadedFile("big.png", b"0" * (5 * 1024 * 1024 + 1), content_type="image/png")

    response = client.post(
        "/complaints/", {"contact": "x@y.cn", "category": "other", "details": "d", "attachment": big}
    )

    assert response.status_code == 400 and not Complaint.objects.exists()

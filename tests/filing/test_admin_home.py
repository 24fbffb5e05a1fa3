"""The admin as the filing goes: the filing's models in boxes in the order of the filing, and a home page that says
where each service stands, which complaints are due, and what is out of date."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.test import RequestFactory
from django.utils import timezone
from openpyxl import Workbook

from filing.admin.home import SECTIONS, filing_home
from filing.models import Complaint, TestBank
from filing.safety.bank_models import BankKind
from filing.safety.banks import bank_create, bank_questions_import
from filing.safety.selectors import safety_config

pytestmark = pytest.mark.django_db


def _filing_boxes(app_list):
    return [app for app in app_list if app["app_label"] == "filing"]


def test_the_filing_app_is_laid_out_in_the_order_of_the_filing(client, operator, english):
    client.force_login(operator)

    app_list = client.get("/admin/", HTTP_ACCEPT_LANGUAGE="en").context["app_list"]

    boxes = _filing_boxes(app_list)
    assert [box["name"] for box in boxes] == [f"Filing · {title}" for title, _names in SECTIONS]
    assert [m["object_name"] for m in boxes[0]["models"]] == ["Provider", "Service", "Document"]
    assert [m["object_name"] for m in boxes[7]["models"]] == ["Complaint", "PersonalInformationRequest", "Incident"]
    # Every filing model the operator may see is in one box, none twice.
    shown = [m["object_name"] for box in boxes for m in box["models"]]
    assert len(shown) == len(set(shown)) and "ModelRecord" in shown and "FilingExport" in shown
    # The app's own page has the same boxes, titled by the app.
    page = client.get("/admin/filing/", HTTP_ACCEPT_LANGUAGE="en")
    assert [box["name"] for box in _filing_boxes(page.context["app_list"])] == [box["name"] for box in boxes]
    assert page.context["title"] == "Filing administration"


def test_the_home_page_shows_each_services_readiness_and_next_step(client, operator, service, english):
    client.force_login(operator)

    page = client.get("/admin/", HTTP_ACCEPT_LANGUAGE="en").content.decode()

    assert 'id="filing-home"' in page
    panel = page[page.index('id="filing-home"') :]
    assert service.name in panel
    assert f'href="/admin/filing/service/{service.pk}/change/"' in panel
    assert "items open" in panel  # a new service has everything still to do


def test_complaints_near_their_due_date_and_overdue_ones_are_listed_first(client, operator, settings, english):
    settings.COMPLAINT_DUE_SOON_DAYS = 2
    now = timezone.now()
    overdue = Complaint.objects.create(channel="web", complainant="late", category="illegal")
    soon = Complaint.objects.create(channel="web", complainant="soon", category="illegal")
    later = Complaint.objects.create(channel="web", complainant="later", category="illegal")
    answered = Complaint.objects.create(channel="web", complainant="done", category="illegal", status="resolved")
    for complaint, due in (
        (overdue, now - timedelta(hours=3)),
        (soon, now + timedelta(days=1)),
        (later, now + timedelta(days=5)),
        (answered, now),
    ):
        Complaint.objects.filter(pk=complaint.pk).update(due_at=due)

    request = RequestFactory().get("/admin/")
    request.user = operator
    template, context = filing_home(request)

    assert template == "admin/filing/home.html"
    assert [c.pk for c in context["due_soon"]] == [overdue.pk, soon.pk]
    client.force_login(operator)
    page = client.get("/admin/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Complaints due within 2 days or overdue" in page and "overdue</strong>" in page


def test_a_test_bank_past_its_monthly_update_is_named_out_of_date(client, operator, english):
    bank = bank_create(name="应拒答 2026-11", kind=BankKind.REFUSE)
    sheet = Workbook()
    sheet.active.append(["序号", "测试题", "一级分类", "二级分类"])
    sheet.active.append([1, "问题", "A.1", "A.1.1"])
    buffer = io.BytesIO()
    sheet.save(buffer)
    buffer.seek(0)
    assert bank_questions_import(bank=bank, stream=buffer, filename="a.xlsx").ok
    request = RequestFactory().get("/admin/")
    request.user = operator
    assert not any(stale.what == bank for stale in filing_home(request)[1]["out_of_date"])

    days = safety_config().test_bank_update_max_days
    TestBank.objects.filter(pk=bank.pk).update(updated_at=timezone.now() - timedelta(days=days + 1))

    stale = [s for s in filing_home(request)[1]["out_of_date"] if s.what == bank]
    assert len(stale) == 1 and stale[0].max_days == days
    client.force_login(operator)
    page = client.get("/admin/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert f"it is to be updated at least every {days} days" in page


def test_someone_who_may_not_see_the_services_gets_no_panel(user_with_role):
    from genai_platform.roles import Role

    request = RequestFactory().get("/admin/")
    request.user = user_with_role(Role.AUDITOR, "auditor")
    assert filing_home(request) is None

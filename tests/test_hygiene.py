"""Input hygiene (genai_platform.hygiene): text that cannot be stored, and request bodies over the limit."""

from __future__ import annotations

import pytest
from django.test import Client

from filing.models import Complaint
from genai_platform.hygiene import text_problem, text_problems


@pytest.mark.parametrize(
    "char", ["\x00", "\ud800", "\udfff", "\ufdd0", "\ufdef", "\ufffe", "\uffff", "\U0001fffe", "\U0010ffff"]
)
def test_text_problem_names_each_bad_character(char):
    problem = text_problem(f"ab{char}c")
    assert problem is not None and f"U+{ord(char):04X}" in problem and "3" in problem


@pytest.mark.parametrize("text", ["", "春风花月夜", "tab\tand\nnewline", "emoji 😀", "\ufffd", "\ufdcf\ufdf0"])
def test_ordinary_text_passes(text):
    assert text_problem(text) is None


def test_text_problems_name_nested_fields_by_their_path():
    data = {"kind": "lm", "params": {"opening": "a\x00", "list": ["ok", "b\ufffe"]}, "bad\x00key": 1}
    assert sorted(field for field, _message in text_problems(data)) == [
        "non_field_errors",
        "params.list.1",
        "params.opening",
    ]


@pytest.mark.django_db
def test_a_web_form_shows_a_field_error_for_a_non_character_and_stores_nothing(client: Client):
    response = client.post(
        "/complaints/",
        {"contact": "a@example.com", "category": Complaint.Category.OTHER, "details": "x\ufdd0y"},
        HTTP_ACCEPT_LANGUAGE="en",
    )

    assert response.status_code == 400
    assert "U+FDD0" in str(response.context["form"].errors["details"])
    assert not Complaint.objects.exists()


@pytest.mark.django_db
def test_an_admin_form_refuses_a_non_character(client_for):
    from genai_platform.roles import Role

    operator = client_for(Role.OPERATOR)
    response = operator.post(
        "/admin/filing/allowlistphrase/add/", {"phrase": "好\uffff词", "notes": ""}, HTTP_ACCEPT_LANGUAGE="en"
    )

    assert response.status_code == 200
    assert "U+FFFF" in response.content.decode()


@pytest.mark.django_db
def test_a_form_body_over_the_limit_is_a_plain_413(client: Client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    response = client.post("/complaints/", {"contact": "a@example.com", "details": "x" * 20_000})

    assert response.status_code == 413
    assert response["Content-Type"].startswith("text/plain")
    assert "10000" in response.content.decode()
    assert not Complaint.objects.exists()


@pytest.mark.django_db
def test_a_multipart_body_whose_fields_are_over_the_limit_is_a_413_even_with_csrf_checks(settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    client = Client(enforce_csrf_checks=True)
    response = client.post("/complaints/", {"contact": "a@example.com", "details": "x" * 20_000, "attachment": ""})

    assert response.status_code == 413
    assert not Complaint.objects.exists()


@pytest.mark.django_db
def test_an_api_multipart_body_over_the_limit_is_a_413_with_the_error_body(client: Client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    response = client.post("/api/v1/labels/verify/", {"note": "x" * 20_000})

    assert response.status_code == 413
    assert response.json()["error"]["code"] == "too_large"

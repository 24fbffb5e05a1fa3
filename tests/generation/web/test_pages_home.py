"""End-user pages with Django's test client: home and notices, who may open which page, the
navigation and the language."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from genai_platform.roles import Role
from tests.generation.web.helpers import text_of

pytestmark = pytest.mark.django_db


# ------------------------------------------------------------------------------
# Home and notices
# ------------------------------------------------------------------------------
def test_home_shows_the_service_its_filing_number_the_ai_notice_and_the_links(client):
    from filing.models import Service
    from tests.generation.factories import service_serving

    service = service_serving(status=Service.Status.FILED)
    Service.objects.filter(pk=service.pk).update(filing_number="Beijing-CeShi-202601010001")

    page = text_of(client.get("/"))

    assert "测试服务" in page
    assert "Beijing-CeShi-202601010001" in page
    assert "人工智能生成" in page
    for url in ("/terms/", "/privacy/", "/complaints/"):
        assert f'href="{url}"' in page


def test_without_a_public_service_the_pages_say_it_is_not_open_yet(client):
    from filing.models import Service

    Service.objects.update(is_public=False)

    assert "尚未开放" in text_of(client.get("/"))


@pytest.mark.parametrize("url", ["/terms/", "/privacy/", "/complaints/"])
def test_notices_are_public(client, url):
    response = client.get(url)

    assert response.status_code == 200
    assert "<h1>" in text_of(response)


def test_the_complaints_page_states_the_response_time(client, settings):
    settings.COMPLAINT_RESPONSE_DAYS = 5

    assert "5 天内" in text_of(client.get("/complaints/"))


def test_pages_load_htmx_from_the_platform_not_a_cdn(client):
    page = text_of(client.get("/"))

    scripts = re.findall(r'<script[^>]*src="([^"]+)"', page)
    assert scripts == ["/static/generation/vendor/htmx-2.0.11/htmx.min.js", "/static/generation/site.js"]


def test_the_vendored_htmx_is_the_file_its_readme_names():
    folder = Path(__file__).resolve().parents[3] / "generation/static/generation/vendor/htmx-2.0.11"
    digest = hashlib.sha256((folder / "htmx.min.js").read_bytes()).hexdigest()

    assert digest in (folder / "README.md").read_text()
    assert "Zero-Clause BSD" in (folder / "LICENSE").read_text()


# ------------------------------------------------------------------------------
# Roles
# ------------------------------------------------------------------------------
END_USER_PAGES = ["/generate/", "/history/", "/account/"]


@pytest.mark.parametrize("url", END_USER_PAGES)
def test_anonymous_visitors_are_sent_to_log_in(client, url):
    response = client.get(url)

    assert response.status_code == 302
    assert response["Location"].startswith(f"/accounts/login/?next={url}")


@pytest.mark.parametrize("role", [Role.OPERATOR, Role.AUDITOR, None])
@pytest.mark.parametrize("url", END_USER_PAGES)
def test_other_roles_get_a_403_page_that_says_why(client_for, role, url):
    response = client_for(role).get(url)

    assert response.status_code == 403
    assert "终端用户" in text_of(response)


# ------------------------------------------------------------------------------
# Language
# ------------------------------------------------------------------------------
def test_pages_switch_to_english(enduser):
    enduser.post("/i18n/setlang/", {"language": "en", "next": "/generate/"})

    page = text_of(enduser.get("/generate/"))

    assert 'lang="en"' in page
    assert "Today's quota" in page or "No daily limit" in page


@pytest.mark.parametrize(
    ("role", "shown", "hidden"),
    [
        (Role.END_USER, ['href="/generate/"', 'href="/account/"'], ['href="/audit/"', 'href="/admin/"']),
        (Role.AUDITOR, ['href="/audit/"'], ['href="/generate/"', 'href="/admin/"']),
        (Role.OPERATOR, ['href="/admin/"'], ['href="/generate/"', 'href="/audit/"']),
    ],
)
def test_the_navigation_offers_what_the_role_can_use(client_for, role, shown, hidden):
    nav = re.search(r'<nav class="site-nav".*?</nav>', text_of(client_for(role).get("/terms/")), re.S).group(0)

    assert all(link in nav for link in shown)
    assert not any(link in nav for link in hidden)

import pytest

pytestmark = [pytest.mark.smoke, pytest.mark.django_db]


def test_home_page_is_in_simplified_chinese_by_default(client):
    page = client.get("/").content.decode()

    assert 'lang="zh-hans"' in page
    assert "生成式人工智能服务平台" in page


def test_english_is_available_through_the_language_switch(client):
    response = client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    assert response.status_code == 302

    page = client.get("/").content.decode()

    assert 'lang="en"' in page
    assert "Generative AI service platform" in page


def test_admin_login_is_in_chinese_by_default(client):
    assert "登录" in client.get("/admin/login/").content.decode()

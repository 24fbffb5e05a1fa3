import pytest
from django.test import override_settings

pytestmark = [pytest.mark.smoke, pytest.mark.django_db]


def test_healthz_answers_without_touching_dependencies(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_reports_database_and_broker(client):
    response = client.get("/readyz")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ready"
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["broker"]["ok"] is True


@override_settings(CELERY_BROKER_URL="redis://127.0.0.1:1/0")
def test_readyz_is_503_with_a_reason_when_the_broker_is_unreachable(client):
    response = client.get("/readyz")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "not ready"
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["broker"]["ok"] is False
    assert body["checks"]["broker"]["detail"]


def test_readyz_lists_worker_heartbeats(client):
    from genai_platform.services import heartbeat_record

    heartbeat_record(queue="inference", hostname="w1@host")

    body = client.get("/readyz").json()

    assert body["workers"]["inference"]["hostname"] == "w1@host"
    assert body["workers"]["inference"]["seconds_since_heartbeat"] >= 0


def test_an_unknown_api_address_gets_the_json_error_body(client):
    response = client.get("/api/v1/no-such-thing/")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_an_unknown_page_gets_a_page(client):
    response = client.get("/no-such-page/")

    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


def test_the_browsers_favicon_request_finds_the_platforms_icon(client):
    from django.contrib.staticfiles import finders

    response = client.get("/favicon.ico")

    assert response.status_code == 301
    assert response["Location"].endswith("/genai_platform/favicon.svg")
    assert finders.find("genai_platform/favicon.svg")

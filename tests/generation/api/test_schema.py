"""The OpenAPI schema validates and describes exactly the end-user endpoints the URLconf serves."""

from __future__ import annotations

import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.validation import validate_schema

from genai_platform.roles import Role

pytestmark = pytest.mark.django_db

EXPECTED = {
    "/api/v1/auth/token/": {"post", "delete"},
    "/api/v1/nets/": {"get"},
    "/api/v1/jobs/": {"get", "post"},
    "/api/v1/jobs/{public_id}/": {"get"},
    "/api/v1/jobs/{public_id}/cancel/": {"post"},
    "/api/v1/outputs/": {"get"},
    "/api/v1/outputs/{produce_id}/": {"get"},
    "/api/v1/outputs/{produce_id}/download/": {"get"},
    "/api/v1/reports/": {"get", "post"},
}


def _routes(resolver: URLResolver, prefix: str = "") -> list[str]:
    found = []
    for pattern in resolver.url_patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            found += _routes(pattern, route)
        elif isinstance(pattern, URLPattern):
            found.append(route)
    return found


def _as_openapi_path(route: str) -> str:
    route = route.replace("^", "").replace("$", "")
    route = re.sub(r"\(\?P<(\w+)>[^)]*\)", r"{\1}", route)
    route = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route)
    return "/" + route


@pytest.fixture(scope="module")
def schema():
    return SchemaGenerator().get_schema(request=None, public=True)


def test_the_schema_validates_against_openapi_3(schema):
    validate_schema(schema)


def test_the_schema_lists_every_end_user_endpoint_with_its_methods(schema):
    paths = {
        path: {m for m in item if m in {"get", "post", "put", "patch", "delete"}}
        for path, item in schema["paths"].items()
        if path.startswith("/api/v1/") and not path.startswith("/api/v1/labels/")
    }

    assert paths == EXPECTED


def test_every_end_user_url_of_the_urlconf_is_in_the_schema(schema):
    served = {
        _as_openapi_path(route)
        for route in _routes(get_resolver())
        if route.startswith("api/v1/") and not route.startswith("api/v1/labels/")
    }

    assert served == set(EXPECTED)
    assert served <= set(schema["paths"])


def test_error_responses_are_documented_with_the_error_body(schema):
    create = schema["paths"]["/api/v1/jobs/"]["post"]

    assert {"201", "200", "400", "429", "503"} <= set(create["responses"])
    assert create["responses"]["503"]["content"]["application/json"]["schema"]["$ref"].endswith("/Error")
    assert any(p["name"] == "Idempotency-Key" and p["in"] == "header" for p in create["parameters"])


def test_schema_and_docs_are_served_without_any_cdn(client_for):
    client = client_for(Role.END_USER)

    schema = client.get("/api/schema/")
    docs = client.get("/api/docs/").content.decode()

    assert schema.status_code == 200 and b"/api/v1/jobs/" in schema.content
    assert "/static/drf_spectacular_sidecar/" in docs
    assert not re.search(r"(src|href)=\"https?://", docs)

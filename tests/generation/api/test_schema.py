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


SUCCESS = {
    ("/api/v1/jobs/", "get"): "200",
    ("/api/v1/jobs/", "post"): "201",
    ("/api/v1/jobs/{public_id}/", "get"): "200",
    ("/api/v1/jobs/{public_id}/cancel/", "post"): "200",
    ("/api/v1/outputs/", "get"): "200",
    ("/api/v1/outputs/{produce_id}/", "get"): "200",
    ("/api/v1/outputs/{produce_id}/download/", "get"): "200",
    ("/api/v1/reports/", "get"): "200",
    ("/api/v1/reports/", "post"): "201",
    ("/api/v1/nets/", "get"): "200",
    ("/api/v1/auth/token/", "post"): "200",
    ("/api/v1/auth/token/", "delete"): "204",
}


@pytest.mark.parametrize(("path", "method"), list(SUCCESS))
def test_every_operation_documents_its_success_response(schema, path, method):
    assert SUCCESS[path, method] in schema["paths"][path][method]["responses"]


@pytest.mark.parametrize(
    ("path", "item"),
    [("/api/v1/jobs/", "Job"), ("/api/v1/outputs/", "Output"), ("/api/v1/reports/", "Report")],
)
def test_the_lists_answer_a_page_of_their_items(schema, path, item):
    page = schema["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    paginated = schema["components"]["schemas"][page["$ref"].rsplit("/", 1)[1]]

    # Jobs and outputs page by cursor (no count over a long history); reports by number, with a count.
    pages = {"next", "previous", "results"} | ({"count"} if item == "Report" else set())
    assert set(paginated["properties"]) == pages
    assert paginated["properties"]["results"]["items"]["$ref"].endswith(f"/{item}")


@pytest.mark.parametrize(
    ("path", "method"), [op for op in SUCCESS if op[0] != "/api/v1/auth/token/" or op[1] != "post"]
)
def test_every_end_user_operation_documents_its_errors_with_the_error_body(schema, path, method):
    responses = schema["paths"][path][method]["responses"]
    errors = {code for code in responses if code.startswith("4")}

    assert {"401", "403", "429"} <= errors
    for code in errors:
        assert responses[code]["content"]["application/json"]["schema"]["$ref"].endswith("/Error"), code


def test_a_reused_idempotency_key_is_documented_as_422(schema):
    assert "422" in schema["paths"]["/api/v1/jobs/"]["post"]["responses"]


@pytest.mark.parametrize(
    "path",
    [
        "/audit/api/records/",
        "/audit/api/records/{seq}/",
        "/audit/api/records/{seq}/proof/",
        "/audit/api/seals/",
        "/audit/api/seals/{number}/",
    ],
)
def test_the_audit_api_documents_its_errors_and_the_proof_its_own_body(schema, path):
    responses = schema["paths"][path]["get"]["responses"]

    assert {"200", "401", "403", "404"} <= set(responses)
    assert responses["403"]["content"]["application/json"]["schema"]["$ref"].endswith("/Error")
    if path.endswith("/proof/"):
        assert responses["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/RecordProof")

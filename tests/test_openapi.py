"""The OpenAPI document at /api/v1/openapi.json: valid OpenAPI 3, and it lists every fixed endpoint of API.md."""

from __future__ import annotations

import pytest
from openapi_spec_validator import validate

from tests.conftest import ApiClient

PREFIX = "/api/v1"

# Every fixed endpoint of /work/shared/design/API.md, with the path parameters named as flask-smorest
# names them (the view functions' arguments), plus sign-in and the health check.
FIXED_ENDPOINTS = [
    ("POST", "/auth/token"),
    ("GET", "/me"),
    ("GET", "/org-units"),
    ("POST", "/deployments"),
    ("POST", "/deployments/validate"),
    ("GET", "/process-definitions"),
    ("GET", "/process-definitions/{key}/xml"),
    ("POST", "/process-instances"),
    ("GET", "/process-instances"),
    ("GET", "/process-instances/{instance_id}"),
    ("POST", "/process-instances/{instance_id}/cancel"),
    ("POST", "/process-instances/{instance_id}/suspend"),
    ("POST", "/process-instances/{instance_id}/resume"),
    ("POST", "/process-instances/{instance_id}/messages/{name}"),
    ("GET", "/process-instances/{instance_id}/history"),
    ("GET", "/process-instances/{instance_id}/jobs"),
    ("POST", "/process-instances/{instance_id}/jobs/{job_id}/execute"),
    ("GET", "/process-instances/{instance_id}/path"),
    ("GET", "/process-instances/{instance_id}/export"),
    ("GET", "/tasks"),
    ("GET", "/tasks/{task_id}"),
    ("POST", "/tasks/{task_id}/claim"),
    ("POST", "/tasks/{task_id}/unclaim"),
    ("POST", "/tasks/{task_id}/complete"),
    ("POST", "/tasks/{task_id}/transfer"),
    ("POST", "/tasks/{task_id}/delegate"),
    ("POST", "/tasks/{task_id}/return"),
    ("POST", "/tasks/{task_id}/comments"),
    ("GET", "/tasks/{task_id}/comments"),
    ("GET", "/audit/events"),
    ("GET", "/audit/verify"),
    ("GET", "/healthz"),
    ("GET", "/metrics"),
]

HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


@pytest.fixture
def document(api: ApiClient) -> dict:
    response = api.http.get(f"{PREFIX}/openapi.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    return response.json


def operations(document: dict) -> list[tuple[str, str, dict]]:
    return [
        (method.upper(), path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in HTTP_METHODS
    ]


def resolve(document: dict, node: dict) -> dict:
    while "$ref" in node:
        *_, kind, name = node["$ref"].split("/")
        node = document["components"][kind][name]
    return node


def test_the_document_is_valid_openapi_3(document: dict) -> None:
    assert document["openapi"].startswith("3.")
    assert document["info"]["title"] == "govflow" and document["info"]["version"] == "v1"
    validate(document)


def test_every_fixed_endpoint_of_the_contract_is_documented(document: dict) -> None:
    documented = {(method, path) for method, path, _operation in operations(document)}
    missing = [(method, PREFIX + path) for method, path in FIXED_ENDPOINTS if (method, PREFIX + path) not in documented]
    assert missing == []


def test_path_parameters_are_declared_for_every_templated_path(document: dict) -> None:
    for path, item in document["paths"].items():
        names = {p["name"] for p in item.get("parameters", []) if p["in"] == "path"}
        for method, operation in item.items():
            if method in HTTP_METHODS:
                names_here = names | {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
                templated = {part[1:-1] for part in path.split("/") if part.startswith("{")}
                assert templated == names_here, (method, path)


def test_metrics_are_documented_as_plain_text_that_needs_no_sign_in(api: ApiClient, document: dict) -> None:
    operation = document["paths"][f"{PREFIX}/metrics"]["get"]
    assert list(operation["responses"]["200"]["content"]) == ["text/plain"]
    assert operation["responses"]["200"]["content"]["text/plain"]["schema"] == {"type": "string"}
    assert operation["security"] == [] and document["paths"][f"{PREFIX}/healthz"]["get"]["security"] == []
    metrics = api.http.get(f"{PREFIX}/metrics")
    assert metrics.status_code == 200 and metrics.mimetype == "text/plain"
    assert "# TYPE govflow_http_requests_total counter" in metrics.get_data(as_text=True)


def test_bearer_tokens_and_session_cookies_are_the_documented_ways_in(document: dict) -> None:
    schemes = document["components"]["securitySchemes"]
    assert schemes["bearerAuth"] == {"type": "http", "scheme": "bearer"}
    assert schemes["sessionCookie"]["in"] == "cookie"
    assert document["security"] == [{"bearerAuth": []}, {"sessionCookie": []}]


def test_every_operation_documents_its_errors_as_problem_json(document: dict) -> None:
    for method, path, operation in operations(document):
        responses = operation["responses"]
        assert "default" in responses, (method, path)
        for status, response in responses.items():
            if status == "default" or status.startswith(("4", "5")):
                content = resolve(document, response)["content"]
                assert list(content) == ["application/problem+json"], (method, path, status)
                schema = resolve(document, content["application/problem+json"]["schema"])
                assert {"type", "title", "status", "detail", "errors"} <= set(schema["properties"]), (method, path)
                assert schema["properties"]["status"]["type"] == "integer"


def test_requests_that_take_a_body_document_it(document: dict) -> None:
    for method, path, operation in operations(document):
        if method == "POST" and path.endswith(("/complete", "/cancel", "/comments", "/process-instances")):
            content = operation["requestBody"]["content"]
            assert "application/json" in content, (method, path)
    deploy = document["paths"][f"{PREFIX}/deployments"]["post"]["requestBody"]["content"]
    assert list(deploy) == ["multipart/form-data"]

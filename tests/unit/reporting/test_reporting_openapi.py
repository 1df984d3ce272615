"""The reporting app's OpenAPI documents what every route answers: each JSON route's
success response has a schema naming its fields, each report route lists the media
types other than JSON it serves, and /metrics is text/plain (no store, no broker: the
document is built without starting the app)."""

from __future__ import annotations

from typing import Any

import pytest

from services.reporting.app import create_app
from shared.settings import Settings

JSON = "application/json"
REPORT_MEDIA_TYPES = {"text/markdown", "text/html", "text/csv"}


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    return create_app(Settings(), consume=False).openapi()


def operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, op)
        for path, methods in spec["paths"].items()
        for method, op in methods.items()
    ]


def success(op: dict[str, Any]) -> dict[str, Any]:
    codes = sorted(code for code in op["responses"] if code.startswith("2"))
    assert codes, f"{op['operationId']} documents no success response"
    response: dict[str, Any] = op["responses"][codes[0]]
    return response


def resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].removeprefix("#/components/schemas/")
        schema = spec["components"]["schemas"][name]
    return schema


def test_every_json_route_documents_its_success_body(spec: dict[str, Any]) -> None:
    undocumented, json_routes = [], []
    for method, path, op in operations(spec):
        content = success(op).get("content") or {}
        assert content, f"{method} {path}: its success response names no media type"
        if JSON not in content:
            continue
        json_routes.append(f"{method} {path}")
        schema = resolve(spec, content[JSON].get("schema") or {})
        if not schema.get("properties"):  # {} or a bare dict[str, Any] documents nothing
            undocumented.append(f"{method} {path}: {schema}")
    assert not undocumented, "JSON routes without a documented body:\n" + "\n".join(undocumented)
    for route in (
        "GET /v1/groups",
        "GET /v1/groups/{group_key}/activity",
        "GET /v1/groups/{group_key}/violations",
        "GET /v1/groups/{group_key}/complaints",
        "GET /v1/groups/{group_key}/operators",
        "GET /v1/groups/{group_key}/spotchecks",
        "GET /v1/groups/{group_key}/enforcement",
        "GET /v1/queue",
        "POST /v1/groups/{group_key}/spotchecks/{event_id}/review",
        "GET /v1/users/{user_key}/history",
        "GET /v1/reports/{group_key}/{month}",
        "GET /healthz",
        "GET /readyz",
    ):
        assert route in json_routes, route


def test_report_routes_declare_their_media_types(spec: dict[str, Any]) -> None:
    reports = [(m, p, op) for m, p, op in operations(spec) if p.startswith("/v1/reports/")]
    assert reports
    for method, path, op in reports:
        content = success(op).get("content") or {}
        missing = REPORT_MEDIA_TYPES - set(content)
        assert not missing, f"{method} {path} does not declare {sorted(missing)}"
        report = resolve(spec, content[JSON]["schema"])  # format=json, the default
        assert {"activity", "complaints", "recommendations"} <= set(report["properties"])


def test_metrics_are_text_plain(spec: dict[str, Any]) -> None:
    content = success(spec["paths"]["/metrics"]["get"]).get("content") or {}
    assert set(content) == {"text/plain"}


def test_readiness_documents_its_503(spec: dict[str, Any]) -> None:
    op = spec["paths"]["/readyz"]["get"]
    assert resolve(spec, op["responses"]["503"]["content"][JSON]["schema"])["properties"]

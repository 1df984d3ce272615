"""Ingest's OpenAPI documents what every route answers: a schema for each JSON route's
success body, the `{detail}` body of its refusals, and /metrics as text, not JSON."""

from __future__ import annotations

from typing import Any

import pytest

from services.ingest.app import create_app
from shared.settings import Settings

JSON = "application/json"


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    return create_app(Settings(tokens_file=None)).openapi()


def operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, op)
        for path, ops in spec["paths"].items()
        for method, op in ops.items()
    ]


def resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if ref is None:
        return schema
    name = ref.removeprefix("#/components/schemas/")
    resolved: dict[str, Any] = spec["components"]["schemas"][name]
    return resolved


def properties(spec: dict[str, Any], schema: dict[str, Any]) -> set[str]:
    """The property names an object schema (or each branch of an anyOf) declares."""
    schema = resolve(spec, schema)
    if "anyOf" in schema:
        return set().union(*(properties(spec, s) for s in schema["anyOf"]))
    return set(schema.get("properties", {}))


def json_schema(response: dict[str, Any]) -> dict[str, Any]:
    schema: dict[str, Any] = response.get("content", {}).get(JSON, {}).get("schema", {})
    return schema


def test_the_routes_are_all_there(spec: dict[str, Any]) -> None:
    assert {(m, p) for m, p, _ in operations(spec)} == {
        ("POST", "/v1/events"),
        ("POST", "/v1/webhooks/{platform}"),
        ("GET", "/v1/rulesets/{group_key}"),
        ("GET", "/healthz"),
        ("GET", "/readyz"),
        ("GET", "/metrics"),
    }


def test_every_json_route_declares_its_success_body(spec: dict[str, Any]) -> None:
    missing = []
    for method, path, op in operations(spec):
        if path == "/metrics":
            continue
        success = [code for code in op["responses"] if code.startswith("2")]
        assert success, f"{method} {path} declares no success status"
        for code in success:
            if not properties(spec, json_schema(op["responses"][code])):
                missing.append(f"{method} {path} {code}")
    assert not missing, f"no response schema for: {missing}"


def test_every_refusal_declares_its_body(spec: dict[str, Any]) -> None:
    for method, path, op in operations(spec):
        if path == "/readyz":  # its 503 is the readiness body, not a refusal
            continue
        for code, response in op["responses"].items():
            if code.startswith(("4", "5")):
                assert "detail" in properties(spec, json_schema(response)), (
                    f"{method} {path} {code} declares no {{detail}} body"
                )
    events = spec["paths"]["/v1/events"]["post"]["responses"]
    assert {"400", "401", "403", "409", "413", "415", "422", "429", "503"} <= set(events)
    assert properties(spec, json_schema(events["422"])) == {"detail", "errors"}


def test_readiness_declares_its_503(spec: dict[str, Any]) -> None:
    responses = spec["paths"]["/readyz"]["get"]["responses"]
    for code in ("200", "503"):
        assert properties(spec, json_schema(responses[code])) == {"broker", "store"}


def test_metrics_is_text_not_json(spec: dict[str, Any]) -> None:
    content = spec["paths"]["/metrics"]["get"]["responses"]["200"]["content"]
    assert JSON not in content
    assert any(media.startswith("text/plain") for media in content)


def test_the_webhook_route_declares_its_202_results(spec: dict[str, Any]) -> None:
    responses = spec["paths"]["/v1/webhooks/{platform}"]["post"]["responses"]
    accepted = resolve(spec, json_schema(responses["202"]))
    results = accepted["properties"]["results"]
    assert results["type"] == "array"
    result = resolve(spec, results["items"])
    assert set(result["properties"]) == {"event_id", "status"}
    assert result["properties"]["status"]["enum"] == ["accepted", "duplicate"]
    # ignored ({status, reason}) and a URL verification's challenge are 200s
    assert properties(spec, json_schema(responses["200"])) == {"status", "reason", "challenge"}
    for code in ("401", "404", "422", "503"):
        assert code in responses

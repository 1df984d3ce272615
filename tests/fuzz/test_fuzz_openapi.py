"""Schemathesis against the OpenAPI of ingest and reporting, running as real processes:
generated path, query and body values (a bounded number per operation, fixed seed) never
get a 5xx, and every service is still up and ready afterwards.

The ingest routes read their bodies raw (size limit first), so their OpenAPI carries no
body schema; the test adds "any JSON" bodies to those operations before running, so the
generator also sends arbitrary JSON to /v1/events and the webhooks."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.stack import start_dev_stack
from tools.catchup import wait_caught_up

pytestmark = pytest.mark.integration

MAX_EXAMPLES = 60
SEED = 20260301
GROUP = "telegram:-100555"


def schemathesis_bin() -> str:
    found = Path(sys.executable).with_name("schemathesis")
    if not found.exists():
        pytest.skip("schemathesis is not installed (uv sync --dev)")
    return str(found)


def seed_events() -> list[dict[str, Any]]:
    base = {"schema_version": 1, "platform": "telegram", "group_id": "-100555"}
    out: list[dict[str, Any]] = [
        {
            **base,
            "event_id": f"fz-join-{u}",
            "type": "member.joined",
            "user_id": u,
            "occurred_at": "2026-03-01T08:00:00Z",
            "payload": {},
        }
        for u in ("u1", "u2")
    ]
    out += [
        {
            **base,
            "schema_version": 2,
            "event_id": f"fz-m{i}",
            "type": "message.posted",
            "user_id": f"u{i % 2 + 1}",
            "occurred_at": f"2026-03-0{i % 3 + 1}T10:0{i}:00Z",
            "payload": {"message_id": f"m{i}", "text": f"hello {i}"},
        }
        for i in range(8)
    ]
    return out


def event_schema(etype: str, version: int, payload: dict[str, Any]) -> dict[str, Any]:
    """One event type, shaped closely enough that generated events are often accepted,
    so arbitrary (but valid) events flow on through moderation and reporting too."""
    text = {"type": "string", "minLength": 1, "maxLength": 40}
    return {
        "type": "object",
        "additionalProperties": False,
        "required": [
            "event_id",
            "type",
            "schema_version",
            "occurred_at",
            "platform",
            "group_id",
            "user_id",
            "payload",
        ],
        "properties": {
            "event_id": {"type": "string", "pattern": "^fz-[a-z0-9]{1,20}$"},
            "type": {"const": etype},
            "schema_version": {"const": version},
            "occurred_at": {"type": "string", "format": "date-time"},
            "platform": {"enum": ["onebot", "telegram", "discord", "slack", "api"]},
            "group_id": {"enum": ["-100555", "-100556"]},
            "user_id": text,
            "payload": {
                "type": "object",
                "additionalProperties": False,
                "required": sorted(payload),
                "properties": {k: v or text for k, v in payload.items()},
            },
        },
    }


EVENT_SCHEMA: dict[str, Any] = {
    "anyOf": [
        event_schema("message.posted", 2, {"message_id": None, "text": {"type": "string"}}),
        event_schema(
            "message.posted",
            1,
            {
                "message_id": None,
                "text": {"type": "string"},
                "attachments": {"type": "array", "items": {"type": "string"}},
            },
        ),
        event_schema("member.joined", 1, {}),
        event_schema("member.left", 1, {}),
        event_schema(
            "complaint.filed", 1, {"complaint_id": None, "target_user_id": None, "category": None}
        ),
        event_schema(
            "complaint.resolved",
            1,
            {"complaint_id": None, "outcome": {"enum": ["upheld", "rejected"]}},
        ),
        event_schema(
            "sanction.applied",
            1,
            {
                "sanction_id": None,
                "target_user_id": None,
                "reason": None,
                "action": {"enum": ["warn", "remove_message", "mute", "kick", "ban"]},
                "by_role": {"const": "admin"},
            },
        ),
    ]
}


# Realistic values per parameter name, offered next to the original (any string), so the
# generator reaches past validation into the queries as well as hammering validation.
HINTS: dict[str, dict[str, Any]] = {
    "group_key": {"enum": [GROUP, "telegram:-100556", "api:x"]},
    "user_key": {"enum": ["telegram:u1", "telegram:u2"]},
    "event_id": {"enum": ["fz-m0", "fz-m1", "fz-m5"]},
    "platform": {"enum": ["onebot", "telegram", "discord", "slack"]},
    "from": {"type": "string", "format": "date"},
    "to": {"type": "string", "format": "date"},
    "cursor": {"type": "string", "format": "date"},
    "month": {"type": "string", "pattern": "^20[0-9]{2}-(0[1-9]|1[0-2])$"},
    "granularity": {"enum": ["day", "week", "month"]},
    "status": {"enum": ["open", "resolved", "pending", "ok", "violation", "all"]},
    "format": {"enum": ["json", "md", "html", "csv"]},
    "action": {"enum": ["warn", "remove_message", "mute", "kick", "ban", "escalate"]},
    "rule": {"enum": ["banned-words", "flood", "links"]},
    "limit": {"type": "integer", "minimum": 1, "maximum": 1000},
    "offset": {"type": "integer", "minimum": 0, "maximum": 1000},
}


def with_hints(spec: dict[str, Any]) -> dict[str, Any]:
    """Declare the raw-read bodies, and offer realistic values for every known parameter."""
    bodies = {
        "/v1/events": {
            "anyOf": [EVENT_SCHEMA, {"type": "array", "items": EVENT_SCHEMA, "maxItems": 5}, {}]
        },
        "/v1/webhooks/{platform}": {},
    }
    for path, schema in bodies.items():
        op = spec.get("paths", {}).get(path, {}).get("post")
        if op is not None and "requestBody" not in op:
            op["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": schema}},
            }
    for ops in spec.get("paths", {}).values():
        for op in ops.values():
            for param in op.get("parameters", []):
                hint = HINTS.get(param["name"])
                if hint is not None:
                    param["schema"] = {"anyOf": [hint, param["schema"]]}
    return spec


@pytest.fixture(scope="module")
def stack(servers: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    dev = start_dev_stack(servers, tmp_path_factory.mktemp("fuzz-openapi"))
    try:
        resp = httpx.post(
            f"{dev.ingest_url}/v1/events",
            json=seed_events(),
            headers={"Authorization": f"Bearer {dev.tokens.admin}"},
            timeout=30,
        )
        assert resp.status_code == 202, resp.text
        asyncio.run(wait_caught_up(dev.settings, timeout=120))
        yield dev
    finally:
        dev.stop()


def run_schemathesis(
    base_url: str, token: str, out: Path, name: str, scratch: Path
) -> subprocess.CompletedProcess[str]:
    """`scratch` is the working directory: schemathesis keeps a .schemathesis/ cache there,
    which does not belong in the repository."""
    out = out.resolve()
    spec = httpx.get(f"{base_url}/openapi.json", timeout=10).json()
    schema = out / f"{name}-openapi.json"
    schema.write_text(json.dumps(with_hints(spec)), encoding="utf-8")
    cmd = [
        schemathesis_bin(),
        "run",
        str(schema),
        "--url",
        base_url,
        "--checks",
        "not_a_server_error",
        "--max-examples",
        str(MAX_EXAMPLES),
        "--seed",
        str(SEED),
        "--phases",
        "examples,coverage,fuzzing",
        "--workers",
        "2",
        "--generation-database",
        "none",
        "--request-timeout",
        "30",
        "--suppress-health-check",
        "all",
        "--no-color",
        "--header",
        f"Authorization: Bearer {token}",
        "--report",
        "junit",
        "--report-junit-path",
        str(out / f"schemathesis-{name}.xml"),
    ]
    env = os.environ | {
        "SCHEMATHESIS_HOOKS": str(Path(__file__).with_name("schemathesis_hooks.py"))
    }
    result = subprocess.run(
        cmd, capture_output=True, text=True, timeout=400, check=False, env=env, cwd=scratch
    )
    (out / f"schemathesis-{name}.log").write_text(result.stdout + result.stderr, encoding="utf-8")
    return result


@pytest.mark.parametrize("service", ["ingest", "reporting"])
def test_no_server_errors(stack: Any, artifacts_dir: Path, tmp_path: Path, service: str) -> None:
    url = stack.ingest_url if service == "ingest" else stack.reporting_url
    result = run_schemathesis(url, stack.tokens.admin, artifacts_dir, service, tmp_path)
    assert result.returncode == 0, (result.stdout + result.stderr)[-6000:]
    if service == "ingest":  # the accepted fuzz events must fold without errors
        asyncio.run(wait_caught_up(stack.settings, timeout=120))
    errors = [
        f"{log.name}: {line[:300]}"
        for log in sorted(Path(stack.workdir).glob("*.log"))
        for line in log.read_text(encoding="utf-8", errors="replace").splitlines()
        if '"level": "error"' in line or '"level": "critical"' in line or "Traceback" in line
    ]
    assert not errors, "\n".join(errors)
    # the fuzzed events went on through moderation and reporting: all still alive
    for name, proc in stack.procs.items():
        assert proc.poll() is None, f"{name} died during fuzzing; see {stack.workdir}/{name}.log"
    for base in (stack.ingest_url, stack.reporting_url):
        assert httpx.get(f"{base}/readyz", timeout=10).status_code == 200

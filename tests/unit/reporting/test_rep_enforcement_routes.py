"""GET /v1/queue and GET /v1/groups/{group_key}/enforcement: scope and parameters are
checked before any read (db is None here), the queue's filter narrows to the token's
groups, items carry their age, and the answers are documented by their models."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import TypeAdapter

from services.reporting import enforcement_figures as ef
from services.reporting import reads, responses
from services.reporting.folds import fold_decision, fold_event
from services.reporting.folds.base import Batch
from services.reporting.queue_figures import queue_page
from shared.settings import Settings
from tests.support.folds import GROUP, SHANGHAI, decision, enforced, of, store
from tests.support.reporting_api import get, storeless_client

OTHER = "telegram:-2002"
TOKENS = {
    "admin-secret": ("boss", "admin", [GROUP]),
    "two-groups-1": ("ops", "operator", [GROUP, "discord:7"]),
    "plat-secret1": ("bot", "platform", ["*"]),
}
NOW = datetime(2026, 1, 6, tzinfo=UTC)


@pytest.fixture
def client() -> TestClient:
    return storeless_client(TOKENS)


@pytest.mark.parametrize(
    "path",
    [
        f"/v1/groups/{OTHER}/enforcement",
        f"/v1/queue?group={OTHER}",
        f"/v1/queue?group={OTHER}&kind=enforcement&status=open",
    ],
)
def test_groups_outside_the_token_are_403(client: TestClient, path: str) -> None:
    for token in ("admin-secret", "two-groups-1"):
        res = get(client, path, token)
        assert res.status_code == 403, (token, res.text)
        assert "not scoped" in res.json()["detail"]


def test_platform_tokens_read_neither(client: TestClient) -> None:
    for path in (f"/v1/groups/{GROUP}/enforcement", "/v1/queue"):
        assert get(client, path, "plat-secret1").status_code == 403
    assert client.get("/v1/queue").status_code == 401


def test_unknown_kinds_statuses_and_ranges_get_a_clear_422(client: TestClient) -> None:
    res = get(client, f"/v1/queue?group={GROUP}&kind=parcel")
    assert res.status_code == 422
    assert "kind must be one of complaint, escalation, spotcheck" in res.json()["detail"]
    res = get(client, "/v1/queue?kind=complaint")
    assert res.status_code == 422
    assert res.json()["detail"] == (
        "the queue holds no complaint items yet; it holds: enforcement "
        "(leave kind out for all of them)"
    )
    res = get(client, "/v1/queue?status=resolved")
    assert res.status_code == 422 and "open, claimed, closed" in res.json()["detail"]
    res = get(client, "/v1/queue?group=$where")
    assert res.status_code == 422
    res = get(client, f"/v1/groups/{GROUP}/enforcement?from=2026-02-01&to=2026-01-01")
    assert res.status_code == 422 and "after" in res.json()["detail"]
    res = get(client, f"/v1/groups/{GROUP}/enforcement?limit=51")
    assert res.status_code == 422 and "between 1 and 50" in res.json()["detail"]


def test_the_queue_reads_only_the_tokens_groups() -> None:
    assert reads.queue_filter(frozenset({GROUP, "discord:7"}), "enforcement", "open") == {
        "group_key": {"$in": ["discord:7", GROUP]},
        "kind": "enforcement",
        "status": "open",
    }
    assert reads.queue_filter(None, None, None) == {}  # a '*' token: every group


def queue_docs() -> list[dict[str, Any]]:
    batch = Batch()
    for n, hours in ((1, 30), (2, 2)):
        at = (NOW - timedelta(hours=hours)).isoformat()
        fold_event(batch, enforced(at, "failed", "ban", n, error="rights"), SHANGHAI, Settings())
    docs = of(store([batch]), "queue")
    return sorted(docs, key=lambda d: d["opened_at"])  # as the store sorts them


def test_queue_items_carry_their_age_oldest_first() -> None:
    page = queue_page(queue_docs(), NOW, 1, 0)
    [item] = page["items"]
    assert item["ref"] == "d1" and item["age_s"] == 30 * 3600
    assert (item["status"], item["assignee"], item["due_at"]) == ("open", None, None)
    assert item["context"]["error"] == "rights"
    assert page["next_offset"] == 1 and page["as_of"] == NOW
    last = queue_page(queue_docs()[1:], NOW, 1, 1)
    assert last["next_offset"] is None and last["items"][0]["age_s"] == 2 * 3600


def written(model: type[Any], body: dict[str, Any]) -> bytes:
    adapter = TypeAdapter(model)
    return adapter.dump_json(adapter.validate_python(body))


def test_answers_are_written_as_computed() -> None:
    before = TypeAdapter(dict[str, Any])
    page = queue_page(queue_docs(), NOW, 10, 0)
    assert written(responses.QueuePage, page) == before.dump_json(page)
    batch = Batch()
    fold_decision(batch, decision("2026-01-05T01:00:00+00:00", "mute", n=1), SHANGHAI)
    fold_event(batch, enforced("2026-01-05T01:00:01Z", "dry_run", "mute", 1), SHANGHAI, Settings())
    fold_event(
        batch,
        enforced("2026-01-05T01:00:02Z", "executed", "mute", 1, phase="renew"),
        SHANGHAI,
        Settings(),
    )
    docs = of(store([batch]), "enforcement")
    body = ef.enforcement_page(GROUP, docs, None, None, 20)
    assert body["would_have"] and body["totals"]["scheduled"] == {"renew": {"executed": 1}}
    assert written(responses.EnforcementPage, body) == before.dump_json(body)
    first = body["items"][0]
    assert list(first)[:4] == ["rule_id", "platform", "action", "decided"]

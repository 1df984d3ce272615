"""API parameter validation and token scoping (checked before any read: db is None)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import HTTPException
from fastapi.testclient import TestClient

from services.reporting import api
from tests.support.reporting_api import get, storeless_client

TOKENS = {
    "admin-secret": ("boss", "admin", ["telegram:-1001"]),
    "oper-secret1": ("ops", "operator", ["telegram:-1001"]),
    "plat-secret1": ("bot", "platform", ["*"]),
}


@pytest.fixture
def client() -> TestClient:
    return storeless_client(TOKENS, dashboard=True)


@pytest.mark.parametrize(
    "value",
    ["telegram:-1001", "onebot:123456", "slack:C0123", "discord:98765", "api:group-1"],
)
def test_valid_group_keys(value: str) -> None:
    assert api.parse_group_key(value) == value


@pytest.mark.parametrize(
    "value",
    ["$where", "telegram:$gt", "irc:1", "telegram:", "telegram", "telegram:a b", {"$ne": 1}, 5],
)
def test_invalid_group_keys_are_422(value: Any) -> None:
    with pytest.raises(HTTPException) as err:
        api.parse_group_key(value)
    assert err.value.status_code == 422


def test_dates_months_choices_and_limits() -> None:
    assert api.parse_day("2026-02-28", "from") == "2026-02-28"
    assert api.parse_day(None, "from") is None
    for bad in ["2026-02-30", "2026-2-1", "yesterday", "$gte"]:
        with pytest.raises(HTTPException, match=r"YYYY-MM-DD|may not start"):
            api.parse_day(bad, "from")
    with pytest.raises(HTTPException, match="after"):
        api.parse_range("2026-03-01", "2026-02-01")
    assert api.parse_month("2026-12") == "2026-12"
    for bad in ["2026-13", "2026-1", "26-01"]:
        with pytest.raises(HTTPException, match="YYYY-MM"):
            api.parse_month(bad)
    with pytest.raises(HTTPException, match="day, week, month"):
        api.parse_choice("year", "granularity", ("day", "week", "month"))
    assert api.parse_limit(1000) == 1000
    for bad_limit in [0, 1001, True]:
        with pytest.raises(HTTPException):
            api.parse_limit(bad_limit)
    with pytest.raises(HTTPException):
        api.parse_offset(-1)
    assert api.parse_token("ads.link", "rule") == "ads.link"
    with pytest.raises(HTTPException):
        api.parse_token("$where", "rule")


def test_missing_token_is_401(client: TestClient) -> None:
    assert client.get("/v1/groups").status_code == 401


def test_platform_token_may_not_read(client: TestClient) -> None:
    res = get(client, "/v1/groups/telegram:-1001/activity", "plat-secret1")
    assert res.status_code == 403


@pytest.mark.parametrize(
    "path",
    [
        "/v1/groups/telegram:-2002/activity",
        "/v1/groups/telegram:-2002/violations",
        "/v1/groups/telegram:-2002/complaints",
        "/v1/groups/telegram:-2002/operators",
        "/v1/groups/telegram:-2002/spotchecks",
        "/v1/reports/telegram:-2002/2026-01",
    ],
)
def test_other_groups_are_403(client: TestClient, path: str) -> None:
    res = get(client, path)
    assert res.status_code == 403
    assert "not scoped" in res.json()["detail"]


def test_bad_parameters_get_a_clear_422(client: TestClient) -> None:
    res = get(client, "/v1/groups/telegram:-1001/activity?granularity=year")
    assert res.status_code == 422 and "granularity must be one of" in res.json()["detail"]
    res = get(client, "/v1/groups/telegram:-1001/activity?from=2026-01-99")
    assert res.status_code == 422 and "YYYY-MM-DD" in res.json()["detail"]
    res = get(client, "/v1/groups/telegram:-1001/violations?action=nuke")
    assert res.status_code == 422
    res = get(client, "/v1/groups/telegram:-1001/complaints?status=closed")
    assert res.status_code == 422
    res = get(client, "/v1/reports/telegram:-1001/2026-1")
    assert res.status_code == 422
    res = get(client, "/v1/users/$where/history")
    assert res.status_code == 422


def test_operators_and_spotchecks_are_for_admins_and_auditors(client: TestClient) -> None:
    assert get(client, "/v1/groups/telegram:-1001/operators", "oper-secret1").status_code == 403
    assert get(client, "/v1/groups/telegram:-1001/spotchecks", "oper-secret1").status_code == 403
    res = client.post(
        "/v1/groups/telegram:-1001/spotchecks/e1/review",
        json={"outcome": "ok"},
        headers={"Authorization": "Bearer oper-secret1"},
    )
    assert res.status_code == 403


def test_dashboard_page_and_vendored_chart_library(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "/static/vendor/chart.umd.min.js" in page.text
    assert "http://" not in page.text and "https://" not in page.text  # no CDN
    lib = client.get("/static/vendor/chart.umd.min.js")
    assert lib.status_code == 200 and "Chart.js v4" in lib.text[:200]
    js = client.get("/static/dashboard.js")
    assert js.status_code == 200 and "__charts_ready" in js.text

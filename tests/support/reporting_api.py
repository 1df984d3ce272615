"""The reporting API without a store (`db` is None): every request a test sends must be
answered from the token and the parameters alone, before any read."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from services.reporting import api
from services.reporting.dashboard import mount_dashboard
from shared.settings import Settings
from shared.tokens import TokenSpec, TokenStore


def storeless_client(
    tokens: dict[str, tuple[str, str, list[str]]], *, dashboard: bool = False
) -> TestClient:
    """`tokens`: secret -> (name, role, groups)."""
    app = FastAPI()
    app.state.tokens = TokenStore(
        [TokenSpec(name=n, token=t, role=r, groups=g) for t, (n, r, g) in tokens.items()]  # type: ignore[arg-type]
    )
    app.state.db = None
    app.state.settings = Settings()
    app.include_router(api.build_router())
    if dashboard:
        mount_dashboard(app)
    return TestClient(app)


def get(client: TestClient, path: str, token: str = "admin-secret") -> Any:
    return client.get(path, headers={"Authorization": f"Bearer {token}"})

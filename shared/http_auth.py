"""FastAPI dependencies for bearer tokens, shared by the ingest and reporting APIs."""

from __future__ import annotations

from fastapi import HTTPException, Request

from shared.tokens import Principal, TokenStore, bearer


def token_store(request: Request) -> TokenStore:
    store: TokenStore = request.app.state.tokens
    return store


def require_principal(request: Request) -> Principal:
    """401 without a valid token; the principal is bound to the request for logs and audit."""
    secret = bearer(request.headers.get("authorization"))
    if secret is None:
        raise HTTPException(401, "missing bearer token: send 'Authorization: Bearer <token>'")
    principal = token_store(request).authenticate(secret)
    if principal is None:
        raise HTTPException(401, "unknown token")
    request.state.principal = principal
    return principal


def require_group(principal: Principal, group_key: str) -> None:
    if not principal.can_see(group_key):
        raise HTTPException(403, f"token '{principal.name}' is not scoped to group {group_key}")


def require_reader(principal: Principal) -> None:
    if principal.role == "platform":
        raise HTTPException(403, "platform tokens may only post events and webhooks")

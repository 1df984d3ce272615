"""The bodies ingest answers with, as pydantic models, so its OpenAPI documents them.

The field names and their order are the wire format: a body rendered from these models
is byte for byte what the routes sent before they had models.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


class EventResult(BaseModel):
    event_id: str
    status: Literal["accepted", "duplicate"] = Field(
        description="`accepted` by the one request that claimed the event, `duplicate` by "
        "every other; either way the event is on the topic"
    )


class EventResults(BaseModel):
    """202: one result per event sent, in the order sent."""

    results: list[EventResult]


class EventError(BaseModel):
    index: int = Field(description="position of the event in the request")
    event_id: Any = Field(description="the event's `event_id` as sent; null when absent")
    error: str


class InvalidEvents(BaseModel):
    """422: nothing of the request was accepted. `errors` (one per invalid event) is
    there when events failed validation; other 422s (an empty array, invalid rules)
    carry `detail` only."""

    detail: str
    errors: list[EventError] = Field(default_factory=list)


class WebhookIgnored(BaseModel):
    """200: the webhook was verified but carries nothing to moderate (a heartbeat, a
    private chat, ...)."""

    status: Literal["ignored"]
    reason: str | None


class WebhookChallenge(BaseModel):
    """200: a URL verification (Slack): the challenge echoed back."""

    challenge: str


class RulesetVersion(BaseModel):
    group_key: str
    version: int = Field(description="the group's rule-set version on record; 0 for none")


class Health(BaseModel):
    status: Literal["ok"]


class Readiness(BaseModel):
    """200 while the broker answers (without the store, events are still deduplicated
    from memory), 503 when it does not."""

    broker: bool
    store: bool


class ErrorDetail(BaseModel):
    """Every refusal: what is wrong, in words safe to show the caller."""

    detail: str


_ERRORS = {
    400: "malformed body: not JSON within the limits, or the client went away mid-body",
    401: "missing or unknown bearer token, or a webhook signature that does not verify",
    403: "the token may not do this (role or group scope)",
    404: "unknown platform",
    408: "request body not complete in time",
    409: "a rule-set version not above the group's current one",
    413: "body over the size limit, or too many events in one request",
    415: "Content-Type is not JSON",
    422: "the payload cannot be used",
    429: "rate limit reached; see Retry-After",
    503: "broker or store unavailable; retry after Retry-After",
}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route: each status code with its description and the
    ErrorDetail body."""
    return {code: {"model": ErrorDetail, "description": _ERRORS[code]} for code in codes}


# What each route answers besides its own status and model (`responses=` of the routes).
EVENTS_RESPONSES = {
    **errors(400, 401, 403, 408, 409, 413, 415, 422, 429, 503),
    422: {"model": InvalidEvents, "description": "invalid events or rules; none accepted"},
}
WEBHOOK_RESPONSES = {
    200: {
        "model": WebhookIgnored | WebhookChallenge,
        "description": "verified, nothing to moderate (ignored), or a URL verification "
        "(the challenge echoed back)",
    },
    **errors(400, 401, 403, 404, 408, 413, 415, 422, 429, 503),
}
RULESET_RESPONSES = errors(401, 403, 429, 503)
READYZ_RESPONSES: dict[int | str, dict[str, Any]] = {
    503: {"model": Readiness, "description": "the broker does not answer"}
}

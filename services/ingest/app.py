"""Ingest wiring: HTTP in, validated and deduplicated events out to the events topic.

The one module that knows FastAPI, the broker and the store together. Each route is a few
steps: read the body (limits first), hand it to the pure parts (shared.codec, webhooks,
policy) and to the adapters (accept, rulesets), and answer with a model of responses.py,
so the OpenAPI documents every body.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

import pymongo
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from pydantic import BaseModel, ValidationError
from starlette.requests import ClientDisconnect

from services.ingest.accept import Ingest
from services.ingest.dedup import DedupStore
from services.ingest.limits import RateLimiter
from services.ingest.policy import (
    authorise_event,
    authorise_relay,
    authorise_relayed,
    out_of_scope,
)
from services.ingest.publisher import BrokerUnavailable, EventPublisher
from services.ingest.responses import (
    EVENTS_RESPONSES,
    READYZ_RESPONSES,
    RULESET_RESPONSES,
    WEBHOOK_RESPONSES,
    EventError,
    EventResults,
    Health,
    InvalidEvents,
    Readiness,
    RulesetVersion,
    WebhookChallenge,
    WebhookIgnored,
)
from services.ingest.rulesets import RulesetVersions
from services.ingest.webhooks import WebhookOutcome, handle_webhook
from shared.codec import RecordRejected, event_from_dict, lone_surrogate_at, may_hold_surrogates
from shared.events import MANUAL_TYPES, Actor, Event, now_utc
from shared.http_auth import require_principal
from shared.http_server import (
    RETRY_AFTER_S,
    install_store_errors,
    install_validation_errors,
    serve,
)
from shared.json_limits import JSONRejected
from shared.json_limits import parse_json as parse_limited_json
from shared.kafka import make_broker, make_producer
from shared.keys import WEBHOOK_PLATFORMS
from shared.logging import configure_logging, get_logger
from shared.metrics import INGEST_EVENTS, render_metrics
from shared.mongo import database, make_mongo
from shared.settings import Settings, get_settings
from shared.tokens import Principal, TokenStore
from shared.topics import ensure_topics

SERVICE = "ingest"
# "onebot, telegram, discord or slack"
PLATFORM_NAMES = f"{', '.join(WEBHOOK_PLATFORMS[:-1])} or {WEBHOOK_PLATFORMS[-1]}"

# ---------------------------------------------------------------- reading a body


class BadRequest(HTTPException):
    def __init__(self, detail: str) -> None:
        super().__init__(400, detail)


# Answers sent while the client may still be sending its body close the connection:
# otherwise uvicorn keeps reading (and discarding) the rest for as long as it trickles in.
CLOSE = {"Connection": "close"}


async def read_body(request: Request, limit: int, timeout_s: float = 10.0) -> bytes:
    """The whole body, or a 4xx: over `limit` bytes (413, before buffering it whole), or
    not complete within `timeout_s` (408: a client sending a byte every few seconds
    would otherwise hold the request, and its connection, for as long as it likes)."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise HTTPException(
            413, f"body of {declared} bytes is over the {limit}-byte limit", headers=CLOSE
        )
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(timeout_s):
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise HTTPException(413, f"body is over the {limit}-byte limit", headers=CLOSE)
                chunks.append(chunk)
    except TimeoutError:
        raise HTTPException(
            408, f"request body not complete within {timeout_s:g} s", headers=CLOSE
        ) from None
    except ClientDisconnect:
        # The client went away mid-body: nothing to accept and no one to answer; not a
        # server error (it used to log a traceback as one).
        raise HTTPException(400, "client disconnected before the body was complete") from None
    return b"".join(chunks)


def parse_json(body: bytes) -> Any:
    """JSON within the limits of shared.json_limits.parse_json (depth, number size, no
    NaN/Infinity), or a 400 that says which limit."""
    try:
        return parse_limited_json(body)
    except JSONRejected as err:
        raise BadRequest(err.reason) from None


def require_json(request: Request) -> None:
    """A body declared as something other than JSON is refused (415) rather than parsed
    as JSON anyway; no Content-Type at all is taken to be JSON (curl -d, old relays)."""
    declared = request.headers.get("content-type")
    if declared is None:
        return
    media = declared.split(";", 1)[0].strip().lower()
    if media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    ):
        return
    raise HTTPException(
        415, f"Content-Type must be application/json (got {declared[:100]!r})", headers=CLOSE
    )


async def json_body(request: Request) -> bytes:
    """The body of a JSON request: 415 for another media type, then read_body's limits."""
    require_json(request)
    settings = _settings(request)
    return await read_body(request, settings.max_body_bytes, settings.http_body_timeout_s)


# ---------------------------------------------------------------- answers and state


class Unavailable(HTTPException):
    """The broker did not take the events: 503 + Retry-After, nothing was accepted."""

    def __init__(self, err: BrokerUnavailable) -> None:
        super().__init__(
            503,
            f"event broker unavailable, nothing was accepted; retry later ({err})",
            headers={"Retry-After": str(RETRY_AFTER_S)},
        )


def forbid(why: str | None) -> None:
    """403 with the policy's reason, if it gave one."""
    if why:
        raise HTTPException(403, why)


def answer(status: int, body: BaseModel) -> JSONResponse:
    """A body with a status other than the route's own (documented in its `responses`)."""
    return JSONResponse(body.model_dump(), status)


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _ingest(request: Request) -> Ingest:
    ingest: Ingest = request.app.state.ingest
    return ingest


def _rulesets(request: Request) -> RulesetVersions:
    rulesets: RulesetVersions = request.app.state.rulesets
    return rulesets


def rate_limited(request: Request, principal: Principal = Depends(require_principal)) -> Principal:
    """The principal, or 429 + Retry-After once its token has used up its rate."""
    wait = request.app.state.limiter.take(principal.name)
    if wait:
        raise HTTPException(
            429,
            f"rate limit of {_settings(request).rate_limit_per_minute} requests/minute reached",
            headers={"Retry-After": str(math.ceil(wait))},
        )
    return principal


async def accept(request: Request, events: list[Event], platform: str) -> list[dict[str, str]]:
    """Claim, publish and confirm (accept.py), or 503 when the broker does not take them."""
    try:
        # Not cancelled half-way (it publishes); its store calls are bounded by the
        # client's timeoutMS and fall back to memory (dedup.py).
        return await _ingest(request).accept(events, platform)
    except BrokerUnavailable as err:
        raise Unavailable(err) from err


router = APIRouter()

# ---------------------------------------------------------------- POST /v1/events


@router.post(
    "/v1/events",
    status_code=202,
    response_model=EventResults,
    responses=EVENTS_RESPONSES,
)
async def post_events(
    request: Request, principal: Principal = Depends(rate_limited)
) -> EventResults | JSONResponse:
    """Canonical events, one object or an array: validated, authorised, deduplicated and
    published; a rule change must also raise its group's rule-set version."""
    body = await json_body(request)
    items = batch(parse_json(body), _settings(request).max_batch_events)
    events, invalid = parse_events(items, principal, may_hold_surrogates(body))
    if invalid:
        return invalid_events(invalid)
    for event in events:
        if why := authorise_event(principal, event):
            raise HTTPException(403, f"event {event.event_id}: {why}")
    rulesets = _rulesets(request)
    await rulesets.check(events)
    results = await accept(request, events, "api")
    await rulesets.record(events)
    log_posted(request.app.state.log, principal, events, results)
    return EventResults.model_validate({"results": results})


def batch(raw: Any, most: int) -> list[Any]:
    """The items of one request: a lone object is a batch of one; 1 to `most` of them."""
    items = raw if isinstance(raw, list) else [raw]
    if not items:
        raise HTTPException(422, "empty array: send at least one event")
    if len(items) > most:
        raise HTTPException(413, f"{len(items)} events in one request; at most {most}")
    return items


def parse_events(
    items: list[Any], principal: Principal, scan: bool
) -> tuple[list[Event], list[EventError]]:
    """Each item as an event received now from `principal`, and what is wrong with each
    item that is not one."""
    received_at = now_utc().isoformat()
    actor = Actor(name=principal.name, role=principal.role).model_dump()
    events: list[Event] = []
    invalid: list[EventError] = []
    for index, item in enumerate(items):
        try:
            if isinstance(item, dict):
                item = {**item, "received_at": received_at, "actor": actor}
            events.append(event_from_dict(item, scan_surrogates=scan))
        except RecordRejected as err:
            event_id = item.get("event_id") if isinstance(item, dict) else None
            if lone_surrogate_at(event_id):
                # Quoted back as sent it could not be encoded (a 500): escape it instead.
                event_id = str(event_id).encode("utf-8", "backslashreplace").decode()
            invalid.append(EventError(index=index, event_id=event_id, error=err.reason))
    return events, invalid


def invalid_events(invalid: list[EventError]) -> JSONResponse:
    for _ in invalid:
        INGEST_EVENTS.labels("api", "rejected", "invalid").inc()
    return answer(422, InvalidEvents(detail="invalid events; none accepted", errors=invalid))


def log_posted(
    log: Any, principal: Principal, events: list[Event], results: list[dict[str, str]]
) -> None:
    for r, e in zip(results, events, strict=True):
        # Manual overrides are always on record (报备备案); platform traffic at debug,
        # so a busy ingest does not spend its time writing a line per message.
        emit = log.info if e.type in MANUAL_TYPES or e.type == "ruleset.updated" else log.debug
        emit(
            "event " + r["status"],
            event_id=e.event_id,
            group_key=e.group_key,
            type=e.type,
            actor=principal.name,
        )
    accepted = sum(r["status"] == "accepted" for r in results)
    log.info(
        "events posted",
        accepted=accepted,
        duplicate=len(results) - accepted,
        actor=principal.name,
        first_event_id=events[0].event_id,
    )


# ---------------------------------------------------------------- POST /v1/webhooks/{platform}


@router.post(
    "/v1/webhooks/{platform}",
    status_code=202,
    response_model=EventResults,
    responses=WEBHOOK_RESPONSES,
)
async def post_webhook(platform: str, request: Request) -> EventResults | JSONResponse:
    """A platform's native webhook: verified, mapped to canonical events, deduplicated and
    published. Discord relays authenticate with a platform token instead of a signature."""
    if platform not in WEBHOOK_PLATFORMS:
        raise HTTPException(404, f"unknown platform {platform!r}: {PLATFORM_NAMES}")
    body = await json_body(request)
    relay = discord_relay(request) if platform == "discord" else None
    outcome = handle_webhook(platform, body, request.headers, _settings(request), now_utc())
    if relay is not None:
        # The relay's token is its only credential, so its group scope binds here too.
        forbid(authorise_relayed(relay, outcome.events))
    await refuse_unusable(request, platform, body, outcome)
    if outcome.challenge is not None:
        return answer(200, WebhookChallenge(challenge=outcome.challenge))
    if outcome.status == "ignored" or not outcome.events:
        INGEST_EVENTS.labels(platform, "ignored", "").inc()
        return answer(200, WebhookIgnored(status="ignored", reason=outcome.reason))
    results = await accept(request, list(outcome.events), platform)
    return EventResults.model_validate({"results": results})


def discord_relay(request: Request) -> Principal:
    """The relay's principal: a valid token (401), within its rate (429), of a role that
    may relay (403)."""
    relay = rate_limited(request, require_principal(request))
    forbid(authorise_relay(relay))
    return relay


async def refuse_unusable(
    request: Request, platform: str, body: bytes, outcome: WebhookOutcome
) -> None:
    """The 4xx for a webhook that does not verify (401), parse (400) or map (422, once
    the original bytes are on the dead-letter topic; 503 when they cannot be put there)."""
    if outcome.status == "unauthorized":
        INGEST_EVENTS.labels(platform, "rejected", "signature").inc()
        raise HTTPException(401, outcome.reason or "signature verification failed")
    if outcome.status == "bad_request":
        INGEST_EVENTS.labels(platform, "rejected", "malformed").inc()
        raise BadRequest(outcome.reason or "malformed payload")
    if outcome.status == "unmappable":
        INGEST_EVENTS.labels(platform, "rejected", "unmappable").inc()
        try:
            await _ingest(request).publisher.dead_letter(
                body, outcome.reason or "unmappable", f"ingest:webhook:{platform}"
            )
        except BrokerUnavailable as err:
            raise Unavailable(err) from err
        raise HTTPException(422, f"payload cannot be mapped: {outcome.reason}")


# ---------------------------------------------------------------- rule-set versions, probes


@router.get("/v1/rulesets/{group_key}", responses=RULESET_RESPONSES)
async def ruleset_version(
    group_key: str, request: Request, principal: Principal = Depends(rate_limited)
) -> RulesetVersion:
    """The group's rule-set version on record (what `modstream rules apply` raises)."""
    forbid(out_of_scope(principal, group_key))
    version = await _rulesets(request).version(group_key)
    return RulesetVersion(group_key=group_key, version=version)


@router.get("/healthz")
async def healthz() -> Health:
    return Health(status="ok")


@router.get("/readyz", responses=READYZ_RESPONSES)
async def readyz(request: Request, response: Response) -> Readiness:
    broker_ok = await _broker_ok(request.app)
    mongo_ok = await _mongo_ok(request.app)
    # Ready while the broker is: without the store, events are still accepted and
    # deduplicated from memory (DedupStore), so taking ingest out of rotation for a
    # store outage would refuse traffic it can take.
    response.status_code = 200 if broker_ok else 503
    return Readiness(broker=broker_ok, store=mongo_ok)


@router.get("/metrics", response_class=PlainTextResponse)
async def metrics() -> Response:
    """Prometheus text exposition."""
    data, media_type = render_metrics()
    return Response(data, media_type=media_type)


async def _broker_ok(app: FastAPI) -> bool:
    try:
        return bool(await asyncio.wait_for(app.state.broker.ping(timeout=2.0), 3.0))
    except Exception:
        return False


async def _mongo_ok(app: FastAPI) -> bool:
    try:
        await asyncio.wait_for(app.state.mongo.admin.command("ping"), 3.0)
        return True
    except Exception:
        return False


# ---------------------------------------------------------------- wiring


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    log = app.state.log
    broker = make_broker(settings, client_id="modstream-ingest")
    # Every operation of this client is bounded (timeoutMS): the dedup falls back to
    # memory on a store error, so a frozen store costs a request store_timeout_s.
    mongo = make_mongo(settings, timeout_s=settings.store_timeout_s)
    try:
        await ensure_topics(settings)
    except Exception as err:  # the broker may come later; readiness says so
        log.warning("topic bootstrap failed", error=str(err))
    await broker.start()
    db = database(mongo, settings)
    dedup = DedupStore(db, deadline_s=settings.store_timeout_s)
    try:
        with pymongo.timeout(60):  # not a request: an index build may take a while
            await dedup.ensure_indexes()
    except Exception as err:  # the store may come later; readiness says so
        log.warning("dedup index not created yet", error=str(err))
    publisher = EventPublisher(
        broker,
        settings.events_topic,
        settings.deadletter_topic,
        partial(make_producer, settings, client_id="modstream-ingest-events"),
    )
    app.state.ingest = Ingest(settings, publisher, dedup)
    app.state.rulesets = RulesetVersions(db, settings.store_timeout_s)
    app.state.broker = broker
    app.state.mongo = mongo
    log.info("ingest ready", port=settings.ingest_port)
    try:
        yield
    finally:
        await dedup.drain()
        await publisher.stop()
        await broker.stop()
        await mongo.close()


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = FastAPI(title="modstream ingest", version="1", lifespan=lifespan)
    app.state.settings = settings
    app.state.log = get_logger()
    app.state.tokens = TokenStore.from_file(settings.tokens_file)
    app.state.limiter = RateLimiter(settings.rate_limit_per_minute)
    app.include_router(router)

    @app.exception_handler(ValidationError)
    async def _validation(_: Request, err: ValidationError) -> JSONResponse:
        return JSONResponse({"detail": str(err)}, 422)

    install_store_errors(app, settings.store_timeout_s)
    install_validation_errors(app)
    return app


def run(settings: Settings | None = None) -> None:
    """Serve on the guarded protocol: header and body deadlines, a connection cap."""
    settings = settings or get_settings()
    configure_logging(SERVICE, settings.log_level)
    serve(create_app(settings), settings, settings.ingest_port)

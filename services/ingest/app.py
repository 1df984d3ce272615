"""Ingest wiring: HTTP in, validated and deduplicated events out to the events topic."""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pymongo
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError
from pymongo.errors import PyMongoError
from starlette.requests import ClientDisconnect

from services.ingest.accept import Ingest
from services.ingest.dedup import DedupStore
from services.ingest.limits import RateLimiter
from services.ingest.publisher import BrokerUnavailable, EventPublisher
from shared.codec import RecordRejected, event_from_dict, may_hold_surrogates
from shared.events import MANUAL_TYPES, Actor, Event, SanctionAppliedEvent, now_utc
from shared.http_auth import require_principal
from shared.http_server import (
    JSONRejected,
    install_store_errors,
    install_validation_errors,
    is_store_unavailable,
    serve,
    within_store_deadline,
)
from shared.http_server import parse_json as parse_limited_json
from shared.kafka import make_broker
from shared.logging import configure_logging, get_logger
from shared.metrics import INGEST_EVENTS, render_metrics
from shared.mongo import database, make_mongo
from shared.settings import Settings, get_settings
from shared.tokens import ADMIN_ONLY_ACTIONS, Principal, TokenStore
from shared.topics import ensure_topics

SERVICE = "ingest"
RETRY_AFTER_S = 5


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
    """JSON within the limits of shared.http_server.parse_json (depth, number size, no
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


def authorise_event(principal: Principal, event: Event) -> str | None:
    """Why this principal may not post this event, or None when it may."""
    if principal.role == "auditor":
        return "auditor tokens change nothing"
    if not principal.can_see(event.group_key):
        return f"token '{principal.name}' is not scoped to group {event.group_key}"
    if event.type == "ruleset.updated" and principal.role != "admin":
        return "only admin tokens may change rule sets"
    if event.type in MANUAL_TYPES:
        if principal.role not in ("operator", "admin"):
            return f"{event.type} needs an operator or admin token"
        if isinstance(event, SanctionAppliedEvent):
            action, by_role = event.payload.action, event.payload.by_role
            if action in ADMIN_ONLY_ACTIONS and principal.role != "admin":
                return f"{action} is admin-only"
            if by_role != principal.role:
                return f"by_role {by_role!r} does not match the token's role {principal.role!r}"
    return None


RULESETS = "ingest_rulesets"


async def check_rulesets(db: Any, events: list[Event]) -> None:
    """A rule change must validate and raise the group's version; else nothing is sent."""
    for event in events:
        if event.type != "ruleset.updated":
            continue
        from shared.rules import RulesError, validate_rules

        try:
            validate_rules(dict(event.payload.rules), f"event {event.event_id}")
        except RulesError as err:
            raise HTTPException(422, f"event {event.event_id}: invalid rules: {err}") from err
        doc = await db[RULESETS].find_one({"_id": event.group_key})
        current = int(doc["version"]) if doc else 0
        if event.payload.version <= current:
            raise HTTPException(
                409,
                f"event {event.event_id}: version {event.payload.version} is not above "
                f"{event.group_key}'s current version {current}",
            )


async def record_rulesets(db: Any, events: list[Event]) -> None:
    for event in events:
        if event.type == "ruleset.updated":
            await db[RULESETS].update_one(
                {"_id": event.group_key}, {"$max": {"version": event.payload.version}}, upsert=True
            )


def version_unrecorded(err: PyMongoError) -> JSONResponse:
    """The events are on the topic but the new rule-set version is not on record, so a
    later, lower version would not be refused. 503: the client retries the same request,
    which is answered `duplicate` and records the version then."""
    return JSONResponse(
        {
            "detail": "events accepted, but the rule-set version could not be recorded "
            f"({type(err).__name__}); retry the same request"
        },
        status_code=503,
        headers={"Retry-After": str(RETRY_AFTER_S)},
    )


def unavailable(detail: str) -> JSONResponse:
    return JSONResponse(
        {"detail": f"event broker unavailable, nothing was accepted; retry later ({detail})"},
        status_code=503,
        headers={"Retry-After": str(RETRY_AFTER_S)},
    )


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    log = get_logger()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
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
        ingest = Ingest(
            settings,
            EventPublisher(broker, settings.events_topic, settings.deadletter_topic),
            dedup,
        )
        ingest.broker_ready = True
        app.state.ingest = ingest
        app.state.db = db
        app.state.broker = broker
        app.state.mongo = mongo
        log.info("ingest ready", port=settings.ingest_port)
        try:
            yield
        finally:
            await broker.stop()
            await mongo.close()

    app = FastAPI(title="modstream ingest", version="1", lifespan=lifespan)
    app.state.settings = settings
    app.state.tokens = TokenStore.from_file(settings.tokens_file)
    app.state.limiter = RateLimiter(settings.rate_limit_per_minute)

    def rate_limited(principal: Principal = Depends(require_principal)) -> Principal:
        wait = app.state.limiter.take(principal.name)
        if wait:
            raise HTTPException(
                429,
                f"rate limit of {settings.rate_limit_per_minute} requests/minute reached",
                headers={"Retry-After": str(math.ceil(wait))},
            )
        return principal

    @app.post("/v1/events", status_code=202)
    async def post_events(request: Request, principal: Principal = Depends(rate_limited)) -> Any:
        require_json(request)
        body = await read_body(request, settings.max_body_bytes, settings.http_body_timeout_s)
        raw = parse_json(body)
        scan = may_hold_surrogates(body)
        items = raw if isinstance(raw, list) else [raw]
        if not items:
            raise HTTPException(422, "empty array: send at least one event")
        if len(items) > settings.max_batch_events:
            raise HTTPException(
                413, f"{len(items)} events in one request; at most {settings.max_batch_events}"
            )
        received_at = now_utc()
        actor = Actor(name=principal.name, role=principal.role).model_dump()
        events: list[Event] = []
        errors = []
        for index, item in enumerate(items):
            try:
                if isinstance(item, dict):
                    item = {**item, "received_at": received_at.isoformat(), "actor": actor}
                events.append(event_from_dict(item, scan_surrogates=scan))
            except RecordRejected as err:
                event_id = item.get("event_id") if isinstance(item, dict) else None
                errors.append({"index": index, "event_id": event_id, "error": err.reason})
        if errors:
            for _ in errors:
                INGEST_EVENTS.labels("api", "rejected", "invalid").inc()
            return JSONResponse({"detail": "invalid events; none accepted", "errors": errors}, 422)
        for event in events:
            why = authorise_event(principal, event)
            if why:
                raise HTTPException(403, f"event {event.event_id}: {why}")
        store_s = settings.store_timeout_s
        await within_store_deadline(check_rulesets(app.state.db, events), store_s)
        try:
            # Not cancelled half-way (it publishes); its store calls are bounded by the
            # client's timeoutMS and fall back to memory (dedup.py).
            results = await app.state.ingest.accept(events, "api")
        except BrokerUnavailable as err:
            return unavailable(str(err))
        try:
            await within_store_deadline(record_rulesets(app.state.db, events), store_s)
        except PyMongoError as err:
            if not is_store_unavailable(err):
                raise
            return version_unrecorded(err)
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
        return {"results": results}

    @app.post("/v1/webhooks/{platform}")
    async def post_webhook(platform: str, request: Request) -> Any:
        from services.ingest.webhooks import handle_webhook

        if platform not in ("onebot", "telegram", "discord", "slack"):
            raise HTTPException(
                404, f"unknown platform {platform!r}: onebot, telegram, discord or slack"
            )
        require_json(request)
        body = await read_body(request, settings.max_body_bytes, settings.http_body_timeout_s)
        relay: Principal | None = None
        if platform == "discord":
            relay = rate_limited(require_principal(request))
            if relay.role not in ("platform", "admin"):
                raise HTTPException(403, "discord relays post with a platform token")
        outcome = handle_webhook(platform, body, request.headers, settings, now_utc())
        if relay is not None:
            # The relay's token is its only credential, so its group scope binds here too.
            for event in outcome.events:
                if not relay.can_see(event.group_key):
                    raise HTTPException(
                        403, f"token '{relay.name}' is not scoped to group {event.group_key}"
                    )
        status = outcome.status
        if status == "unauthorized":
            INGEST_EVENTS.labels(platform, "rejected", "signature").inc()
            raise HTTPException(401, outcome.reason or "signature verification failed")
        if status == "bad_request":
            INGEST_EVENTS.labels(platform, "rejected", "malformed").inc()
            raise BadRequest(outcome.reason or "malformed payload")
        if status == "unmappable":
            INGEST_EVENTS.labels(platform, "rejected", "unmappable").inc()
            try:
                await app.state.ingest.publisher.dead_letter(
                    body, outcome.reason or "unmappable", f"ingest:webhook:{platform}"
                )
            except BrokerUnavailable as err:
                return unavailable(str(err))
            raise HTTPException(422, f"payload cannot be mapped: {outcome.reason}")
        if outcome.challenge is not None:
            return {"challenge": outcome.challenge}
        if status == "ignored" or not outcome.events:
            INGEST_EVENTS.labels(platform, "ignored", "").inc()
            return JSONResponse({"status": "ignored", "reason": outcome.reason}, 200)
        try:
            results = await app.state.ingest.accept(list(outcome.events), platform)
        except BrokerUnavailable as err:
            return unavailable(str(err))
        return JSONResponse({"results": results}, 202)

    @app.get("/v1/rulesets/{group_key}")
    async def ruleset_version(group_key: str, principal: Principal = Depends(rate_limited)) -> Any:
        if not principal.can_see(group_key):
            raise HTTPException(403, f"token '{principal.name}' is not scoped to group {group_key}")
        doc = await within_store_deadline(
            app.state.db[RULESETS].find_one({"_id": str(group_key)}), settings.store_timeout_s
        )
        return {"group_key": group_key, "version": int(doc["version"]) if doc else 0}

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz")
    async def readyz() -> Response:
        broker_ok = await _broker_ok(app)
        mongo_ok = await _mongo_ok(app)
        body = {"broker": broker_ok, "store": mongo_ok}
        # Ready while the broker is: without the store, events are still accepted and
        # deduplicated from memory (DedupStore), so taking ingest out of rotation for a
        # store outage would refuse traffic it can take.
        return JSONResponse(body, 200 if broker_ok else 503)

    @app.get("/metrics")
    async def metrics() -> Response:
        data, media_type = render_metrics()
        return Response(data, media_type=media_type)

    @app.exception_handler(ValidationError)
    async def _validation(_: Request, err: ValidationError) -> JSONResponse:
        return JSONResponse({"detail": str(err)}, 422)

    install_store_errors(app, settings.store_timeout_s)
    install_validation_errors(app)
    return app


async def _broker_ok(app: FastAPI) -> bool:
    try:
        ok = bool(await asyncio.wait_for(app.state.broker.ping(timeout=2.0), 3.0))
    except Exception:
        ok = False
    app.state.ingest.broker_ready = ok
    return ok


async def _mongo_ok(app: FastAPI) -> bool:
    try:
        await asyncio.wait_for(app.state.mongo.admin.command("ping"), 3.0)
        return True
    except Exception:
        return False


def run(settings: Settings | None = None) -> None:
    """Serve on the guarded protocol: header and body deadlines, a connection cap."""
    settings = settings or get_settings()
    configure_logging(SERVICE, settings.log_level)
    serve(create_app(settings), settings, settings.ingest_port)

"""Ingest wiring: HTTP in, validated and deduplicated events out to the events topic."""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError
from starlette.requests import ClientDisconnect

from services.ingest.dedup import DedupStore
from services.ingest.limits import RateLimiter
from services.ingest.publisher import BrokerUnavailable, EventPublisher
from shared.codec import RecordRejected, event_from_dict, may_hold_surrogates
from shared.events import MANUAL_TYPES, Actor, Event, SanctionAppliedEvent, now_utc
from shared.http_auth import require_principal
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


async def read_body(request: Request, limit: int) -> bytes:
    """Reject oversized bodies before buffering them whole."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise HTTPException(413, f"body of {declared} bytes is over the {limit}-byte limit")
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise HTTPException(413, f"body is over the {limit}-byte limit")
            chunks.append(chunk)
    except ClientDisconnect:
        # The client went away mid-body: nothing to accept and no one to answer; not a
        # server error (it used to log a traceback as one).
        raise HTTPException(400, "client disconnected before the body was complete") from None
    return b"".join(chunks)


def parse_json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except json.JSONDecodeError as err:
        raise BadRequest(
            f"malformed JSON at line {err.lineno} column {err.colno}: {err.msg}"
        ) from err
    except UnicodeDecodeError as err:
        raise BadRequest(f"body is not UTF-8: {err}") from err


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
        from services.moderation.rules import RulesError, validate_rules

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


class Ingest:
    """The accept path shared by canonical events and webhooks."""

    def __init__(self, settings: Settings, publisher: EventPublisher, dedup: DedupStore) -> None:
        self.settings = settings
        self.publisher = publisher
        self.dedup = dedup
        self.broker_ready = False

    async def accept(self, events: list[Event], platform: str) -> list[dict[str, str]]:
        ids = [e.event_id for e in events]
        seen = await self.dedup.seen(ids)
        fresh: list[Event] = []
        fresh_ids: set[str] = set()
        results = []
        for e in events:
            if e.event_id in seen or e.event_id in fresh_ids:
                results.append({"event_id": e.event_id, "status": "duplicate"})
            else:
                fresh.append(e)
                fresh_ids.add(e.event_id)
                results.append({"event_id": e.event_id, "status": "accepted"})
        if fresh:
            try:
                await self.publisher.publish(fresh)
            except BrokerUnavailable:
                self.broker_ready = False
                raise
            self.broker_ready = True
            await self.dedup.remember([e.event_id for e in fresh], now_utc())
        for r in results:
            INGEST_EVENTS.labels(platform, r["status"], "").inc()
        return results


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
        mongo = make_mongo(settings)
        try:
            await ensure_topics(settings)
        except Exception as err:  # the broker may come later; readiness says so
            log.warning("topic bootstrap failed", error=str(err))
        await broker.start()
        db = database(mongo, settings)
        dedup = DedupStore(db)
        try:
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
        body = await read_body(request, settings.max_body_bytes)
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
        await check_rulesets(app.state.db, events)
        try:
            results = await app.state.ingest.accept(events, "api")
        except BrokerUnavailable as err:
            return unavailable(str(err))
        await record_rulesets(app.state.db, events)
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
        body = await read_body(request, settings.max_body_bytes)
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
        doc = await app.state.db[RULESETS].find_one({"_id": str(group_key)})
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
    import uvicorn

    settings = settings or get_settings()
    configure_logging(SERVICE, settings.log_level)
    uvicorn.run(
        create_app(settings),
        host=settings.http_host,
        port=settings.ingest_port,
        log_level="warning",
        access_log=False,
        log_config=None,  # uvicorn's records go through our JSON handler
    )

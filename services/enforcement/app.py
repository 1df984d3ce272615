"""Enforcement wiring: settings, broker, store, the platforms' clients, the consumer loop,
the scheduler and a small health API."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time

import httpx

from services.enforcement.bots import Bots
from services.enforcement.executor import SERVICE, Enforcer
from services.enforcement.limiter import StoreLimiter
from services.enforcement.scheduler import Scheduler
from services.enforcement.store import EnforcementStore
from services.enforcement.worker import EnforcementWorker
from shared.backoff import retry_until_up
from shared.consumer import ConsumerRunner
from shared.health import serve_health
from shared.kafka import make_broker
from shared.logging import configure_logging, get_logger
from shared.mongo import database, make_mongo
from shared.settings import Settings, get_settings
from shared.topics import ensure_topics


async def main(settings: Settings | None = None) -> None:
    settings = settings or get_settings()
    configure_logging(SERVICE, settings.log_level)
    log = get_logger()
    if settings.enforcement_force_dry_run:
        log.warning("ENFORCEMENT_FORCE_DRY_RUN is set: every group runs dry_run")
    await retry_until_up(lambda: ensure_topics(settings), log)
    broker = make_broker(settings, client_id="modstream-enforcement")
    await retry_until_up(broker.start, log)
    mongo = make_mongo(settings, retry_writes=False)
    db = database(mongo, settings)
    store = EnforcementStore(db)
    await retry_until_up(store.ensure_indexes, log)
    http = httpx.AsyncClient(
        timeout=httpx.Timeout(settings.enforcement_http_timeout_s),
        limits=httpx.Limits(max_connections=200, max_keepalive_connections=50),
    )
    bots = Bots(settings, http)
    enforcer = Enforcer(settings, store, StoreLimiter(db), bots)
    worker = EnforcementWorker(settings, enforcer, store, broker)
    runner = ConsumerRunner(
        settings,
        service=SERVICE,
        group_id=settings.enforcement_group,
        topics=[settings.decisions_topic],
        worker=worker,
        # Small batches: a batch must end well within the group's poll interval (300 s)
        # even when a chat is paced at a call every few seconds.
        max_records=100,
    )
    scheduler = Scheduler(settings, enforcer, store, broker, bots, time.time)

    def stop() -> None:
        runner.stop()
        scheduler.stop()

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop)
    health = await serve_health(settings, lambda: runner.consumer is not None)
    scheduling = asyncio.create_task(scheduler.run())
    try:
        await runner.run()
    finally:
        scheduler.stop()
        await asyncio.gather(scheduling, return_exceptions=True)
        health.close()
        await http.aclose()
        await broker.stop()
        await mongo.close()
        log.info("enforcement stopped", processed=runner.processed)


def run(settings: Settings | None = None) -> None:
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main(settings))

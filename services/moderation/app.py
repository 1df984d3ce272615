"""Moderation wiring: settings, broker, store, the consumer loop and a small health API."""

from __future__ import annotations

import asyncio
import contextlib
import signal

from services.moderation.engine import Engine
from services.moderation.engine_config import configured_default_rules, log_rejected_rules
from services.moderation.factory import make_engine
from services.moderation.snapshots import SnapshotStore
from services.moderation.worker import SERVICE, ModerationWorker
from shared.backoff import retry_until_up
from shared.consumer import ConsumerRunner
from shared.health import serve_health
from shared.kafka import make_broker
from shared.logging import configure_logging, get_logger
from shared.mongo import database, make_mongo
from shared.settings import Settings, get_settings
from shared.topics import ensure_topics


def build_engine(settings: Settings) -> Engine:
    """The live engine: the configured default rules, ignored rule-set updates logged."""
    return make_engine(configured_default_rules(settings), on_rejected_rules=log_rejected_rules)


async def main(settings: Settings | None = None) -> None:
    settings = settings or get_settings()
    configure_logging(SERVICE, settings.log_level)
    log = get_logger()
    await retry_until_up(lambda: ensure_topics(settings), log)
    broker = make_broker(settings, client_id="modstream-moderation")
    await retry_until_up(broker.start, log)
    mongo = make_mongo(settings)
    worker = ModerationWorker(
        settings, build_engine(settings), broker, SnapshotStore(database(mongo, settings))
    )
    runner = ConsumerRunner(
        settings,
        service=SERVICE,
        group_id=settings.moderation_group,
        topics=[settings.events_topic],
        worker=worker,
    )
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, runner.stop)
    health = await serve_health(settings, lambda: runner.consumer is not None)
    try:
        await runner.run()
    finally:
        health.close()
        await broker.stop()
        await mongo.close()
        log.info("moderation stopped", processed=runner.processed)


def run(settings: Settings | None = None) -> None:
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main(settings))

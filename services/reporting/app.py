"""Reporting wiring: the fold consumer in the background, the query API in front."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import JSONResponse, Response

from services.reporting.archive_writer import ArchiveWriter
from services.reporting.generations import ProjectionNames
from services.reporting.responses import Health, Readiness
from services.reporting.reviews import ensure_review_indexes
from services.reporting.sink import ProjectionSink
from services.reporting.worker import SERVICE, ReportingWorker
from shared.consumer import ConsumerRunner
from shared.http_server import install_store_errors, install_validation_errors, serve
from shared.kafka import make_broker
from shared.logging import configure_logging, get_logger
from shared.metrics import render_metrics
from shared.mongo import database, make_mongo
from shared.settings import Settings, get_settings
from shared.tokens import TokenStore
from shared.topics import ensure_topics


def create_app(settings: Settings | None = None, *, consume: bool = True) -> FastAPI:
    settings = settings or get_settings()
    log = get_logger()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        mongo = make_mongo(settings)
        db = database(mongo, settings)
        app.state.mongo = mongo
        app.state.db = db
        with contextlib.suppress(Exception):  # the store may come later; readiness says so
            await ensure_review_indexes(db)
        runner: ConsumerRunner | None = None
        task: asyncio.Task[None] | None = None
        broker = None
        if consume:
            with contextlib.suppress(Exception):
                await ensure_topics(settings)
            broker = make_broker(settings, client_id="modstream-reporting")
            await broker.start()
            names = await ProjectionNames.load(db)
            await ArchiveWriter.ensure_indexes(db)
            sink = ProjectionSink(mongo, db, settings, names, archive=ArchiveWriter())
            await sink.ensure_indexes()
            worker = ReportingWorker(sink, broker, settings.deadletter_topic)
            runner = ConsumerRunner(
                settings,
                service=SERVICE,
                group_id=settings.reporting_group,
                topics=[settings.events_topic, settings.decisions_topic],
                worker=worker,
                max_records=settings.fold_max_batch,
                fetch_max_wait_ms=settings.reporting_fetch_max_wait_ms,
            )
            task = asyncio.create_task(runner.run())
        app.state.runner = runner
        log.info("reporting ready", port=settings.reporting_port, consuming=consume)
        try:
            yield
        finally:
            if runner is not None and task is not None:
                runner.stop()
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(task, 15)
            if broker is not None:
                await broker.stop()
            await mongo.close()

    app = FastAPI(title="modstream reporting", version="1", lifespan=lifespan)
    app.state.settings = settings
    app.state.tokens = TokenStore.from_file(settings.tokens_file)

    from services.reporting.api import build_router
    from services.reporting.dashboard import mount_dashboard

    app.include_router(build_router())
    mount_dashboard(app)
    # A store that times out or is unreachable: 503 + Retry-After (the routes bound their
    # reads with settings.store_timeout_s; see api._read).
    install_store_errors(app, settings.store_timeout_s)
    install_validation_errors(app)

    @app.get("/healthz", response_model=Health)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", response_model=Readiness, responses={503: {"model": Readiness}})
    async def readyz() -> JSONResponse:
        try:
            await asyncio.wait_for(app.state.mongo.admin.command("ping"), 3.0)
            store = True
        except Exception:
            store = False
        runner = app.state.runner
        consuming = runner is None or runner.consumer is not None
        return JSONResponse(
            {"store": store, "consuming": consuming}, 200 if store and consuming else 503
        )

    @app.get("/metrics", response_class=Response, responses={200: {"content": {"text/plain": {}}}})
    async def metrics() -> Response:
        data, media_type = render_metrics()
        return Response(data, media_type=media_type)

    return app


def run(settings: Settings | None = None, consume: bool = True) -> None:
    """Serve on the guarded protocol: header and body deadlines, a connection cap."""
    settings = settings or get_settings()
    configure_logging(SERVICE, settings.log_level)
    serve(create_app(settings, consume=consume), settings, settings.reporting_port)

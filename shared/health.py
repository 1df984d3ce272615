"""A small HTTP side door for the pure consumers: /healthz, /readyz and /metrics."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator

import uvicorn
from fastapi import FastAPI
from fastapi.responses import JSONResponse, Response

from shared.metrics import render_metrics
from shared.settings import Settings


class HealthServer:
    def __init__(self, server: uvicorn.Server, task: asyncio.Task[None]) -> None:
        self.server = server
        self.task = task

    def close(self) -> None:
        self.server.should_exit = True


class _QuietServer(uvicorn.Server):
    """Leaves SIGTERM/SIGINT to the consumer it serves beside (uvicorn would take them)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def serve_health(settings: Settings, ready: Callable[[], bool]) -> HealthServer:
    app = FastAPI(title="modstream consumer health")

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz")
    async def readyz() -> JSONResponse:
        ok = ready()
        return JSONResponse({"consuming": ok}, 200 if ok else 503)

    @app.get("/metrics")
    async def metrics() -> Response:
        data, media_type = render_metrics()
        return Response(data, media_type=media_type)

    config = uvicorn.Config(
        app,
        host=settings.http_host,
        port=settings.metrics_port,
        log_level="warning",
        access_log=False,
        log_config=None,  # uvicorn's records go through our JSON handler
        lifespan="off",
    )
    server = _QuietServer(config)
    task = asyncio.create_task(server.serve())
    return HealthServer(server, task)

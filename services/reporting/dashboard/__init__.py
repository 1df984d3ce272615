"""The dashboard: one static page (GET /) and its assets (/static), no server rendering.

The page asks for a token, keeps it in the browser's localStorage, and calls the same
scoped /v1 API as any client, so it can show nothing the token could not read itself.
Chart.js is vendored under static/vendor (MIT, see its LICENSE file): no CDN.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).parent / "static"


def mount_dashboard(app: FastAPI) -> None:
    """Serve the dashboard at / and its files under /static."""
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.get("/", response_class=FileResponse, responses={200: {"content": {"text/html": {}}}})
    async def dashboard() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html", media_type="text/html; charset=utf-8")

"""What both HTTP edges (ingest, reporting) share to stay answerable under abuse.

- JSON with limits is shared/json_limits.py (pure, so the webhook core can use it too).
- `within_store_deadline` and `install_store_errors`: a request's store calls share one
  deadline, and a store that does not answer is a 503 with `Retry-After`, never a request
  hanging for as long as the store is frozen.
- `GuardedH11Protocol` and `serve`: uvicorn's h11 protocol with the timeouts uvicorn does
  not have (request headers must be complete, and the body must arrive, within a bound),
  and a cap on concurrent connections answered with 503 + `Retry-After`.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable
from typing import Any, ClassVar, TypeVar

import h11
import pymongo
from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pymongo.errors import ConnectionFailure, PyMongoError
from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.config import Config
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.server import ServerState

from shared.logging import get_logger
from shared.settings import Settings

T = TypeVar("T")

RETRY_AFTER_S = 5

# ---------------------------------------------------------------- store deadlines

# How much longer than the store deadline the event loop waits before it stops waiting
# itself (a backstop; the driver's own deadline normally answers first).
STORE_GRACE_S = 1.0


class StoreUnavailable(HTTPException):
    """The store did not answer in time: 503 with Retry-After, so clients back off."""

    def __init__(self, detail: str) -> None:
        super().__init__(503, detail, headers={"Retry-After": str(RETRY_AFTER_S)})


def store_unavailable_detail(err: BaseException | None, seconds: float | None = None) -> str:
    within = f" within {seconds:g} s" if seconds else ""
    why = f" ({type(err).__name__})" if err is not None else ""
    return f"the store did not answer{within}{why}; retry later"


def is_store_unavailable(err: PyMongoError) -> bool:
    """A timeout or a lost connection (the store away or frozen), not a bad operation."""
    return isinstance(err, ConnectionFailure) or bool(err.timeout)


async def within_store_deadline(coro: Awaitable[T], seconds: float, *, cancel: bool = True) -> T:
    """Run `coro` with every store call in it sharing one deadline of `seconds`.

    The driver enforces the deadline (`pymongo.timeout`: server selection, connection
    checkout and socket reads together), raising a timeout PyMongoError that
    `install_store_errors` turns into a 503. With `cancel`, the event loop also gives up
    STORE_GRACE_S later on its own (StoreUnavailable), in case anything waits outside the
    driver; leave it off where stopping half-way would lose work (ingest's accept path
    must not stop between publishing and answering).
    """
    with pymongo.timeout(seconds):
        if not cancel:
            return await coro
        window = asyncio.timeout(seconds + STORE_GRACE_S)
        try:
            async with window:
                return await coro
        except TimeoutError:
            if window.expired():
                raise StoreUnavailable(store_unavailable_detail(None, seconds)) from None
            raise
    raise AssertionError("unreachable")  # pragma: no cover - keeps mypy's return check


def install_store_errors(app: FastAPI, seconds: float) -> None:
    """Answer 503 + Retry-After for a store that timed out or is unreachable. Any other
    PyMongoError is a bug of ours and stays a 500 (with its traceback in the log)."""

    @app.exception_handler(PyMongoError)
    async def _store_error(_: Request, err: PyMongoError) -> JSONResponse:
        if not is_store_unavailable(err):
            raise err
        return JSONResponse(
            {"detail": store_unavailable_detail(err, seconds)},
            status_code=503,
            headers={"Retry-After": str(RETRY_AFTER_S)},
        )


def install_validation_errors(app: FastAPI) -> None:
    """FastAPI's 422 for a parameter or body that fails validation, without echoing the
    offending input back: FastAPI's own handler quotes it, and a body whose JSON carried
    NaN (which FastAPI's parser accepts) then cannot be rendered, so the 422 became a 500;
    a 5,000-character parameter was also sent back whole. Type, location and message
    still say what is wrong and where."""

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, err: RequestValidationError) -> JSONResponse:
        errors = [
            {
                "type": str(e.get("type", "")),
                "loc": [p if isinstance(p, int) else str(p) for p in e.get("loc", ())],
                "msg": str(e.get("msg", "")),
            }
            for e in err.errors()
        ]
        return JSONResponse({"detail": errors}, status_code=422)


# ---------------------------------------------------------------- the HTTP protocol

# The protocol's own body deadline fires this much after the application's (ingest's
# read_body answers a JSON 408 first; routes that let FastAPI read the body get this one).
BODY_BACKSTOP_GRACE_S = 1.0


def _raw_response(status: int, reason: str, detail: str) -> bytes:
    """A whole JSON response that closes the connection, written straight to the socket:
    h11 will not send a response before it has read a request's headers."""
    body = json.dumps({"detail": detail}).encode()
    head = [
        f"HTTP/1.1 {status} {reason}",
        "content-type: application/json",
        f"content-length: {len(body)}",
        "connection: close",
    ]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with the bounds it lacks.

    uvicorn closes idle keep-alive connections but puts no limit on a connection that
    opens and sends nothing, or sends its request headers (or body) a byte at a time: 300
    such connections stayed open for as long as their clients liked. Here:
    - a request's headers must be complete within `header_timeout_s` of the connection
      opening or of the first byte of a request on a kept-alive connection (else 408 if
      anything arrived, and the connection is closed);
    - its body must be complete within `body_timeout_s` of the headers (else 408 if no
      response has started, and the connection is closed);
    - above `max_connections` open connections (or requests in flight) a request is
      answered 503 + Retry-After at once and its connection closed, instead of queueing.
    `serve` makes a subclass with the settings' values.
    """

    header_timeout_s: ClassVar[float] = 10.0
    body_timeout_s: ClassVar[float] = 10.0 + BODY_BACKSTOP_GRACE_S
    max_connections: ClassVar[int] = 1000
    _last_cap_warning: ClassVar[float] = 0.0

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self._deadline: asyncio.TimerHandle | None = None
        self._phase: str | None = None  # "headers" or "body" while a deadline runs
        self._inner_app = self.app
        self.app = self._capped

    # -- deadlines

    def _arm(self, phase: str, seconds: float) -> None:
        self._disarm()
        self._phase = phase
        handler = self._headers_late if phase == "headers" else self._body_late
        self._deadline = self.loop.call_later(seconds, handler)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
        self._deadline = None
        self._phase = None

    def _track(self) -> None:
        """Move the deadline along with the peer's side of the h11 state machine."""
        state = self.conn.their_state
        if state is h11.IDLE:
            return  # waiting for headers: the header deadline, if armed, keeps running
        if state is h11.SEND_BODY:
            if self._phase != "body":
                self._arm("body", self.body_timeout_s)
        else:  # DONE, MUST_CLOSE, CLOSED, ERROR, upgrades: nothing more to wait for
            self._disarm()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm("headers", self.header_timeout_s)

    def data_received(self, data: bytes) -> None:
        if self.conn.their_state is h11.IDLE and self._phase is None:
            self._arm("headers", self.header_timeout_s)  # a new request on a kept-alive one
        super().data_received(data)
        self._track()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._track()  # a pipelined request may have been parsed just now

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _headers_late(self) -> None:
        self._deadline, self._phase = None, None
        if self.transport.is_closing() or self.conn.their_state is not h11.IDLE:
            return
        partial, _ = self.conn.trailing_data
        if partial:
            self.transport.write(
                _raw_response(
                    408,
                    "Request Timeout",
                    f"request headers not complete within {self.header_timeout_s:g} s",
                )
            )
        self.transport.close()

    def _body_late(self) -> None:
        self._deadline, self._phase = None, None
        if self.transport.is_closing():
            return
        cycle = self.cycle
        if cycle is not None and not cycle.response_started:
            detail = f"request body not complete within {self.body_timeout_s:g} s"
            body = json.dumps({"detail": detail}).encode()
            try:
                out = self.conn.send(
                    h11.Response(
                        status_code=408,
                        reason=b"Request Timeout",
                        headers=[
                            (b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close"),
                        ],
                    )
                )
                out = (out or b"") + (self.conn.send(h11.Data(data=body)) or b"")
                out += self.conn.send(h11.EndOfMessage()) or b""
                self.transport.write(out)
            except h11.LocalProtocolError:
                pass
            # The application is still waiting for the body: it now sees a disconnect,
            # and whatever it answers is dropped (uvicorn's send is a no-op after that).
            cycle.disconnected = True
            cycle.message_event.set()
        self.transport.close()

    # -- the connection cap

    async def _capped(self, scope: Scope, receive: Receive, send: Send) -> None:
        cap = self.max_connections
        if len(self.connections) > cap or len(self.tasks) > cap:
            now = time.monotonic()
            if now - GuardedH11Protocol._last_cap_warning > 10:
                GuardedH11Protocol._last_cap_warning = now
                get_logger().warning(
                    "connection cap reached; answering 503",
                    connections=len(self.connections),
                    cap=cap,
                )
            body = json.dumps(
                {"detail": f"server busy: more than {cap} connections open; retry later"}
            ).encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": 503,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode()),
                        (b"retry-after", str(RETRY_AFTER_S).encode()),
                        (b"connection", b"close"),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body, "more_body": False})
            return
        await self._inner_app(scope, receive, send)


def guarded_protocol(settings: Settings) -> type[GuardedH11Protocol]:
    """The protocol class with this deployment's limits (uvicorn instantiates it itself,
    one per connection, so the limits travel as class attributes)."""
    return type(
        "GuardedH11Protocol",
        (GuardedH11Protocol,),
        {
            "header_timeout_s": settings.http_header_timeout_s,
            "body_timeout_s": settings.http_body_timeout_s + BODY_BACKSTOP_GRACE_S,
            "max_connections": settings.http_max_connections,
        },
    )


def serve(app: ASGIApp, settings: Settings, port: int) -> None:
    """Run one service's API with uvicorn on the guarded protocol (both edges use this)."""
    import uvicorn

    uvicorn.run(
        app,
        host=settings.http_host,
        port=port,
        http=guarded_protocol(settings),
        timeout_keep_alive=5,
        log_level="warning",
        access_log=False,
        log_config=None,  # uvicorn's records go through our JSON handler
    )

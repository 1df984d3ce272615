"""What every fake platform server shares: serving, the call log, injected faults and the
per-chat rate monitor.

A platform fake subclasses `FakePlatform` and implements `handle` (its documented calls and
state), `chat_of` (which chat a call acts in, for the rate monitor) and the platform's own
rate-limit and server-error answers. Faults are injected per path and answered before the
platform logic runs, so a 429 storm or a hang changes no state.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from tools.embedded import ThreadedServer

FaultKind = Literal["429", "5xx", "hang"]


@dataclass
class Call:
    """One request as the fake received it."""

    at: float  # the fake's clock
    method: str
    path: str  # without the base prefix the platform puts before its routes
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: Any  # parsed JSON, or a dict of form fields, or None
    content_type: str
    chat: str | None = None  # set by the fake (chat_of)
    answer_status: int | None = None  # what the fake answered
    fault: str | None = None  # the injected fault answered instead, if any


@dataclass
class Fault:
    kind: FaultKind
    path: str | None  # substring of the path; None: every path
    times: int  # how many calls it answers; -1: until cleared
    retry_after: float = 1.0
    status: int = 500
    hang_s: float = 60.0


@dataclass
class RateBreach:
    chat: str
    calls_in_window: int
    window_start: float


@dataclass
class FakeClock:
    """A clock tests can move: `now()` is wall time plus `offset`."""

    offset: float = 0.0

    def now(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


class FakePlatform:
    """A fake bot API. `chat_rate` / `chat_per` is the advertised limit per chat (at most
    `chat_rate` calls in any `chat_per` seconds); a call beyond it is answered with the
    platform's 429 and recorded as a breach."""

    # The path prefix the platform's API lives under (Discord "/api/v10"); stripped from
    # Call.path.
    prefix = ""

    def __init__(
        self,
        *,
        chat_rate: int | None = None,
        chat_per: float = 1.0,
        clock: FakeClock | None = None,
    ) -> None:
        self.clock = clock or FakeClock()
        self.calls: list[Call] = []
        self.faults: list[Fault] = []
        self.breaches: list[RateBreach] = []
        self.chat_rate = chat_rate
        self.chat_per = chat_per
        self._recent: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()
        self.port = 0
        self._serving = ThreadedServer(self)

    # ------------------------------------------------------------------ to implement

    async def handle(self, call: Call) -> Response:
        raise NotImplementedError

    def chat_of(self, call: Call) -> str | None:
        """The chat a call acts in (rate-monitored), or None (DMs, global calls)."""
        return None

    def rate_limited(self, call: Call, retry_after: float) -> Response:
        raise NotImplementedError

    def server_error(self, call: Call, status: int) -> Response:
        return Response(status_code=status, content=b"")

    # ------------------------------------------------------------------ faults

    def inject(
        self,
        kind: FaultKind,
        *,
        path: str | None = None,
        times: int = 1,
        retry_after: float = 1.0,
        status: int = 500,
        hang_s: float = 60.0,
    ) -> None:
        with self._lock:
            self.faults.append(Fault(kind, path, times, retry_after, status, hang_s))

    def clear_faults(self) -> None:
        with self._lock:
            self.faults.clear()

    def _take_fault(self, path: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.path is None or fault.path in path:
                    if fault.times > 0:
                        fault.times -= 1
                        if fault.times == 0:
                            self.faults.remove(fault)
                    return fault
        return None

    # ------------------------------------------------------------------ the rate monitor

    def _over_rate(self, chat: str, at: float) -> bool:
        if self.chat_rate is None:
            return False
        with self._lock:
            recent = self._recent[chat]
            while recent and recent[0] <= at - self.chat_per:
                recent.popleft()
            recent.append(at)
            if len(recent) > self.chat_rate:
                self.breaches.append(RateBreach(chat, len(recent), recent[0]))
                return True
        return False

    # ------------------------------------------------------------------ queries for tests

    def calls_to(self, fragment: str) -> list[Call]:
        """Calls whose method + path contains `fragment` ("POST /set_group_ban")."""
        return [c for c in self.calls if fragment in f"{c.method} {c.path}"]

    def answered(self) -> list[Call]:
        """Calls the platform logic answered (no injected fault)."""
        return [c for c in self.calls if c.fault is None]

    # ------------------------------------------------------------------ ASGI

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        raw = await request.body()
        ctype = request.headers.get("content-type", "")
        body: Any = None
        if raw:
            if "json" in ctype:
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = raw
            elif "form" in ctype:
                body = dict(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))
            else:
                body = raw
        path = request.url.path
        if self.prefix and path.startswith(self.prefix):
            path = path[len(self.prefix) :] or "/"
        call = Call(
            at=self.clock.now(),
            method=request.method,
            path=path,
            query=dict(request.query_params),
            headers={k.lower(): v for k, v in request.headers.items()},
            body=body,
            content_type=ctype,
        )
        call.chat = self.chat_of(call)
        self.calls.append(call)
        response = await self._answer(call)
        call.answer_status = response.status_code
        await response(scope, receive, send)

    async def _answer(self, call: Call) -> Response:
        fault = self._take_fault(call.path)
        if fault is not None:
            call.fault = fault.kind
            if fault.kind == "429":
                return self.rate_limited(call, fault.retry_after)
            if fault.kind == "5xx":
                return self.server_error(call, fault.status)
            await asyncio.sleep(fault.hang_s)
            return self.server_error(call, 504)
        if call.chat is not None and self._over_rate(call.chat, call.at):
            call.fault = "over_rate"
            return self.rate_limited(call, self.chat_per)
        return await self.handle(call)

    # ------------------------------------------------------------------ serving

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.prefix}"

    def start(self) -> FakePlatform:
        self.port = self._serving.start()
        return self

    def stop(self) -> None:
        self._serving.stop()

    def __enter__(self) -> FakePlatform:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A JSON answer with the exact bytes of `json.dumps` (compact, UTF-8)."""
    data = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    return Response(
        content=data, status_code=status, headers=headers, media_type="application/json"
    )


Handler = Callable[[Call], Response]

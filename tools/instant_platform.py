"""A Telegram Bot API stand-in that answers every call at once, for the enforcement bench:
what is measured is the enforcer's own cost per decision (ledger, pacing, record, publish),
not a platform's latency. Served by uvicorn in a thread of the bench process."""

from __future__ import annotations

from starlette.types import Receive, Scope, Send

from tools.embedded import ThreadedServer

_OK = b'{"ok":true,"result":true}'


class InstantTelegram:
    def __init__(self) -> None:
        self.port = 0
        self.calls = 0
        self._serving = ThreadedServer(self)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        more = True
        while more:  # read the body off the connection
            message = await receive()
            more = bool(message.get("more_body"))
        self.calls += 1
        headers = [(b"content-type", b"application/json"), (b"content-length", b"25")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": _OK})

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> InstantTelegram:
        self.port = self._serving.start()
        return self

    def stop(self) -> None:
        self._serving.stop()

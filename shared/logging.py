"""structlog JSON logs: one event a line, with the service, event id and group bound."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import MutableMapping
from typing import Any

import structlog

# httpx logs every request's URL at INFO, and a Telegram Bot API URL holds the bot's token:
# warnings only.
LIBRARY_LOGGERS = ("aiokafka", "faststream", "pymongo", "uvicorn.access", "httpx", "httpcore")
_SECRET_FIELDS = ("token", "secret", "signature", "authorization", "password")


def _redact(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key in list(event_dict):
        if any(s in key.lower() for s in _SECRET_FIELDS):
            event_dict[key] = "[redacted]"
    return event_dict


class RepeatFilter(logging.Filter):
    """Lets one record of each (logger, message template) through per window, then one
    summary with how many were dropped: a broker outage makes aiokafka retry (and log)
    thousands of times in 30 s, which buries everything else in the log."""

    def __init__(self, prefixes: tuple[str, ...], window_s: float = 10.0) -> None:
        super().__init__()
        self.prefixes = prefixes
        self.window_s = window_s
        self._last: dict[tuple[str, str], tuple[float, int]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith(self.prefixes):
            return True
        key = (record.name, str(record.msg))
        now = time.monotonic()
        last = self._last.get(key)
        if last is not None and now - last[0] < self.window_s:
            self._last[key] = (last[0], last[1] + 1)
            return False
        if last is not None and last[1]:
            record.msg = f"{record.msg} (and {last[1]} like it in the last {self.window_s:.0f}s)"
        self._last[key] = (now, 0)
        return True


def _stdlib_handler() -> logging.Handler:
    """Library records (uvicorn, aiokafka, pymongo) as the same JSON lines as ours, so
    every line of a service log parses and names its service."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[
                structlog.contextvars.merge_contextvars,
                structlog.processors.add_log_level,
                structlog.stdlib.add_logger_name,
                structlog.processors.TimeStamper(fmt="iso", utc=True),
                _redact,
            ],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                structlog.processors.JSONRenderer(),
            ],
        )
    )
    return handler


def configure_logging(service: str, level: str = "INFO") -> None:
    root = logging.getLogger()
    handler = _stdlib_handler()
    handler.addFilter(RepeatFilter(LIBRARY_LOGGERS))
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in LIBRARY_LOGGERS:
        logging.getLogger(noisy).setLevel(logging.WARNING)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _redact,
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
        ),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    structlog.contextvars.bind_contextvars(service=service)


def get_logger(**bound: Any) -> Any:
    """A logger that always carries event_id and group_key, so every line is greppable."""
    bound.setdefault("event_id", None)
    bound.setdefault("group_key", None)
    return structlog.get_logger().bind(**bound)

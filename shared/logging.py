"""structlog JSON logs: one event a line, with the service, event id and group bound."""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

_SECRET_FIELDS = ("token", "secret", "signature", "authorization", "password")


def _redact(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key in list(event_dict):
        if any(s in key.lower() for s in _SECRET_FIELDS):
            event_dict[key] = "[redacted]"
    return event_dict


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
    root.handlers[:] = [_stdlib_handler()]
    root.setLevel(level.upper())
    for noisy in ("aiokafka", "faststream", "pymongo", "uvicorn.access"):
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

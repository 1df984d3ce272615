"""The recorded platform payloads under tests/fixtures/platforms, for the adapter tests."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from services.ingest.platforms import Mapping, Unmappable

FIXTURES = Path(__file__).parents[1] / "fixtures" / "platforms"
# When ingest received a fixture, unless a test says otherwise.
RECEIVED = datetime(2026, 2, 1, tzinfo=UTC)


def load(name: str) -> dict[str, Any]:
    """The fixture file `name` (with its .json), parsed."""
    data: dict[str, Any] = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    return data


def ignored_why(mapping: Mapping) -> str:
    """Why a delivery maps to no event (and that it maps to none)."""
    assert mapping.events == []
    return mapping.ignored or ""


def unmappable_why(
    map_payload: Callable[[dict[str, Any], datetime], Mapping], payload: dict[str, Any]
) -> str:
    """Why an adapter refuses a delivery (and that it refuses it)."""
    with pytest.raises(Unmappable) as err:
        map_payload(payload, RECEIVED)
    return err.value.reason

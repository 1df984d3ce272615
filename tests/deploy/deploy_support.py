"""Constants and helpers shared by the deploy tests (a uniquely named module, not conftest,
so it cannot collide with another folder's conftest on import)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from shared.settings import Settings

REPO = Path(__file__).resolve().parents[2]
K8S_DIR = REPO / "deploy" / "k8s"
SCHEMAS = Path(__file__).resolve().parent / "schemas"

# The services the one image runs, and the consumer groups of the consumers among them.
SERVICES = ("ingest", "moderation", "reporting")
CONSUMER_GROUPS = {"moderation": "modstream-moderation", "reporting": "modstream-reporting"}


def env_name_to_field(name: str) -> str | None:
    """`MODSTREAM_KAFKA_BOOTSTRAP` -> `kafka_bootstrap`; None for names without the prefix."""
    prefix = str(Settings.model_config.get("env_prefix", ""))
    if not name.startswith(prefix):
        return None
    return name.removeprefix(prefix).lower()


def read_mapping(path: Path, parse: Callable[[str], Any] = yaml.safe_load) -> dict[str, Any]:
    """A YAML file (or, with `parse=json.loads`, a JSON one) whose top level is a mapping."""
    data = parse(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict), path
    return data

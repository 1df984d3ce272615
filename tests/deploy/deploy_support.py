"""Constants and helpers shared by the deploy tests (a uniquely named module, not conftest,
so it cannot collide with another folder's conftest on import)."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from shared.settings import Settings

REPO = Path(__file__).resolve().parents[2]
K8S_DIR = REPO / "deploy" / "k8s"
SCHEMAS = Path(__file__).resolve().parent / "schemas"

# The services the one image runs, the consumer groups of the consumers among them and
# the topics (without the prefix) each group reads.
SERVICES = ("ingest", "moderation", "reporting", "enforcement")
CONSUMER_GROUPS = {
    "moderation": "modstream-moderation",
    "reporting": "modstream-reporting",
    "enforcement": "modstream-enforcement",
}
CONSUMER_TOPICS = {
    "moderation": {"events"},
    "reporting": {"events", "decisions"},
    "enforcement": {"decisions"},
}
# Consumers that serve only /healthz, /readyz and /metrics, on MODSTREAM_METRICS_PORT.
PURE_CONSUMERS = ("moderation", "enforcement")
# The bots' credentials: they can ban members, so only the enforcer may hold them.
BOT_CREDENTIALS = frozenset(
    {
        "onebot_access_token",
        "telegram_bot_token",
        "telegram_bot_tokens",
        "discord_bot_token",
        "discord_bot_tokens",
        "slack_bot_token",
        "slack_bot_tokens",
        "slack_user_token",
    }
)


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


def settings_from(env: Mapping[str, str], monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings as a service started with exactly `env` reads them (none of the test
    runner's own MODSTREAM_* variables leak in)."""
    for name in list(os.environ):
        if env_name_to_field(name) is not None:
            monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return Settings()

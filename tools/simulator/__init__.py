"""A deterministic sample community: what `make demo`, end-to-end tests and benchmarks stream."""

from tools.simulator.community import (
    SimGroup,
    community_groups,
    group_settings,
    simulate,
    span_days,
)
from tools.simulator.corpus import (
    ALLOWED_DOMAINS,
    BANNED_KEYWORDS_EN,
    BANNED_KEYWORDS_ZH,
    BLOCKED_DOMAINS,
    OPERATOR_IDS,
)

__all__ = [
    "ALLOWED_DOMAINS",
    "BANNED_KEYWORDS_EN",
    "BANNED_KEYWORDS_ZH",
    "BLOCKED_DOMAINS",
    "OPERATOR_IDS",
    "SimGroup",
    "community_groups",
    "group_settings",
    "simulate",
    "span_days",
]

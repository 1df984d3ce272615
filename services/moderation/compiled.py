"""A rule set turned into ready-to-run detectors, built once per (group, version).

Building automatons and compiling regexes costs milliseconds; doing it per message would
cap the consumer at a few hundred events a second, so the engine caches these.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from services.moderation.detectors.base import MessageDetector
from services.moderation.detectors.contacts import ContactsDetector
from services.moderation.detectors.flood import FloodDetector
from services.moderation.detectors.keywords import KeywordsDetector
from services.moderation.detectors.links import LinksDetector
from services.moderation.detectors.mentions import MentionsDetector
from services.moderation.detectors.new_members import NewMembersDetector
from services.moderation.detectors.regex import RegexDetector
from services.moderation.detectors.repeat import RepeatDetector
from shared.rules import ComplaintsRule, Ladder, NewMembersRule, RuleSet

_FACTORIES: dict[str, Any] = {
    "keywords": KeywordsDetector,
    "regex": RegexDetector,
    "links": LinksDetector,
    "contacts": ContactsDetector,
    "mentions": MentionsDetector,
    "new_members": NewMembersDetector,
    "repeat": RepeatDetector,
    "flood": FloodDetector,
}


@dataclass(frozen=True, slots=True)
class CompiledRules:
    rules: RuleSet
    version: int
    language: str
    ladder: Ladder
    detectors: tuple[MessageDetector, ...]
    complaints: tuple[str, ComplaintsRule] | None
    # how far back message times per member must be kept (0: no flood rule needs them)
    times_horizon: float
    # how long a join is remembered (0: no new-member rule)
    new_member_period: float


def compile_rules(rules: RuleSet, version: int) -> CompiledRules:
    detectors: list[MessageDetector] = []
    complaints: tuple[str, ComplaintsRule] | None = None
    horizon = 0.0
    period = 0.0
    for rule_id, cfg in rules.ordered_detectors():
        if isinstance(cfg, ComplaintsRule):
            complaints = (rule_id, cfg)
            continue
        det = _FACTORIES[cfg.kind](rule_id, cfg)
        detectors.append(det)
        horizon = max(horizon, float(getattr(det, "horizon", 0.0)))
        if isinstance(cfg, NewMembersRule):
            period = float(cfg.period)
    return CompiledRules(
        rules=rules,
        version=version,
        language=rules.language,
        ladder=rules.ladder,
        detectors=tuple(detectors),
        complaints=complaints,
        times_horizon=horizon,
        new_member_period=period,
    )
